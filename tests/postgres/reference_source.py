"""A PostgreSQL database in the original StageSub's orchestra schema (reference-schema.md §2),
built the way real ones drifted: hand-written DDL without some manual columns, a leftover
tenantId column and central Orchestra table, custom lists, and quirky rows."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg

from tests.pgurls import without_pool

# Drift on purpose: no Musician."notes" and no ProjectNeed."requireLocalResidence" (both come
# from manual files that did not run here); Musician carries a multi-tenant leftover column.
SCHEMA = """
CREATE TABLE "Instrument" (id serial PRIMARY KEY, "instrumentId" text NOT NULL UNIQUE,
  name text NOT NULL UNIQUE, "displayOrder" integer, "isArchived" boolean NOT NULL DEFAULT false,
  "archivedAt" timestamp(3));
CREATE TABLE "Position" (id serial PRIMARY KEY, "positionId" text NOT NULL UNIQUE,
  "instrumentId" integer NOT NULL REFERENCES "Instrument"(id) ON DELETE CASCADE,
  name text NOT NULL, "hierarchyLevel" integer NOT NULL, UNIQUE ("instrumentId", name));
CREATE TABLE "Musician" (id serial PRIMARY KEY, "musicianId" text NOT NULL UNIQUE,
  "firstName" text NOT NULL, "lastName" text NOT NULL, email text NOT NULL UNIQUE, phone text,
  "preferredLanguage" text DEFAULT 'sv', "localResidence" boolean NOT NULL DEFAULT false,
  "isActive" boolean NOT NULL DEFAULT true, "isArchived" boolean NOT NULL DEFAULT false,
  "archivedAt" timestamp(3), "restoredAt" timestamp(3), "tenantId" text,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE "MusicianQualification" ("musicianId" integer NOT NULL REFERENCES "Musician"(id),
  "positionId" integer NOT NULL REFERENCES "Position"(id), PRIMARY KEY ("musicianId", "positionId"));
CREATE TABLE "RankingList" (id serial PRIMARY KEY, "rankingListId" text NOT NULL UNIQUE,
  "positionId" integer NOT NULL REFERENCES "Position"(id) ON DELETE CASCADE,
  "listType" text NOT NULL, description text, version integer NOT NULL DEFAULT 1,
  UNIQUE ("positionId", "listType"));
CREATE TABLE "Ranking" (id serial PRIMARY KEY, "rankingId" text NOT NULL UNIQUE,
  "listId" integer NOT NULL REFERENCES "RankingList"(id) ON DELETE CASCADE,
  "musicianId" integer NOT NULL REFERENCES "Musician"(id), rank integer NOT NULL,
  UNIQUE ("listId", rank), UNIQUE ("listId", "musicianId"));
CREATE TABLE "Project" (id serial PRIMARY KEY, "projectId" text NOT NULL UNIQUE,
  name text NOT NULL, "startDate" timestamp(3) NOT NULL, "weekNumber" integer NOT NULL,
  "rehearsalSchedule" text, "concertInfo" text, notes text,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE "CustomRankingList" (id serial PRIMARY KEY, "customListId" text NOT NULL UNIQUE,
  "projectId" integer NOT NULL REFERENCES "Project"(id) ON DELETE CASCADE,
  "positionId" integer NOT NULL REFERENCES "Position"(id) ON DELETE CASCADE,
  name text NOT NULL, "isTemplate" boolean NOT NULL DEFAULT false, "templateName" text,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE "CustomRanking" (id serial PRIMARY KEY,
  "customListId" integer NOT NULL REFERENCES "CustomRankingList"(id) ON DELETE CASCADE,
  "musicianId" integer NOT NULL REFERENCES "Musician"(id) ON DELETE CASCADE, rank integer NOT NULL,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" timestamp(3) NOT NULL, UNIQUE ("customListId", "musicianId"));
CREATE TABLE "ProjectNeed" (id serial PRIMARY KEY, "projectNeedId" text NOT NULL UNIQUE,
  "projectId" integer NOT NULL REFERENCES "Project"(id),
  "positionId" integer NOT NULL REFERENCES "Position"(id) ON DELETE CASCADE,
  quantity integer NOT NULL DEFAULT 1,
  "rankingListId" integer REFERENCES "RankingList"(id) ON DELETE CASCADE,
  "customRankingListId" integer REFERENCES "CustomRankingList"(id) ON DELETE SET NULL,
  "requestStrategy" text NOT NULL, "maxRecipients" integer, "responseTimeHours" integer DEFAULT 24,
  "archivedAt" timestamp(3), status text NOT NULL DEFAULT 'active');
CREATE TABLE "Request" (id serial PRIMARY KEY, "requestId" text NOT NULL UNIQUE,
  "projectNeedId" integer NOT NULL REFERENCES "ProjectNeed"(id) ON DELETE CASCADE,
  "musicianId" integer NOT NULL REFERENCES "Musician"(id), status text NOT NULL DEFAULT 'pending',
  "sentAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "reminderSentAt" timestamp(3),
  "respondedAt" timestamp(3), response text, "confirmationSent" boolean NOT NULL DEFAULT false);
CREATE TABLE "IdSequence" (id serial PRIMARY KEY, "entityType" text NOT NULL UNIQUE,
  "lastNumber" integer NOT NULL DEFAULT 0, "updatedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE "EmailTemplate" (id serial PRIMARY KEY, "emailTemplateId" text NOT NULL UNIQUE,
  type text NOT NULL UNIQUE, subject text NOT NULL, body text NOT NULL, variables jsonb,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" timestamp(3) NOT NULL);
CREATE TABLE "ProjectFile" (id serial PRIMARY KEY, "projectFileId" text NOT NULL UNIQUE,
  "projectId" integer NOT NULL REFERENCES "Project"(id), "fileName" text NOT NULL,
  "originalFileName" text, "mimeType" text, "fileUrl" text NOT NULL, "fileType" text NOT NULL,
  "uploadedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "projectNeedId" integer REFERENCES "ProjectNeed"(id) ON DELETE CASCADE,
  "sendTiming" text NOT NULL DEFAULT 'on_request');
CREATE TABLE "FileStorage" (id text PRIMARY KEY, "fileName" text NOT NULL, "originalName" text NOT NULL,
  "mimeType" text NOT NULL, size integer NOT NULL, content bytea NOT NULL,
  "projectId" integer REFERENCES "Project"(id) ON DELETE CASCADE, "needId" integer,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE "Orchestra" (id text PRIMARY KEY, subdomain text UNIQUE, "databaseUrl" text);
"""

DATA = """
INSERT INTO "Instrument" ("instrumentId", name, "displayOrder") VALUES
  ('INST001', 'Violin', 1), ('INST002', 'Viola da gamba', NULL), ('ckx9inst0000flute000000aa', 'Flöjt', 2);
INSERT INTO "Position" ("positionId", "instrumentId", name, "hierarchyLevel") VALUES
  ('POS001', 1, 'Tutti violin 1', 2), ('POS002', 1, 'Konsertmästare', 1),
  ('POS003', 2, 'Gamba', 1), ('ckx9pos00000flute000000aa', 3, 'Soloflöjt', 1);
INSERT INTO "Musician" ("musicianId", "firstName", "lastName", email, phone, "preferredLanguage",
  "isActive", "isArchived", "archivedAt") VALUES
  ('MUS001', 'Anna', 'Berg', 'anna@x.se', '070-123 45 67', NULL, true, false, NULL),
  ('MUS002', 'Bo', 'Ek', 'bo@x.se', NULL, 'en', false, false, NULL),
  ('MUS003', 'Cia', 'Dahl', 'cia@x.se', '', 'sv', false, true, '2026-01-02 10:00:00'),
  ('MUS004', 'Anna', 'Berg', 'Anna@X.se', NULL, 'sv', true, false, NULL),
  ('MUS005', 'Test', 'Person', 'robot1@stagesubtest.com', NULL, 'sv', true, false, NULL),
  ('MUS010', 'Eva', 'Frid', 'eva@x.se', 'not a number', 'sv', true, false, NULL),
  ('ckx9q2w3e0000abcd1234efgh', 'Gus', 'Holm', 'gus@x.se', '+46 70 999 88 77', 'en', true, false, NULL);
INSERT INTO "MusicianQualification" VALUES (1,1),(4,1),(6,1),(7,1),(1,2),(2,3),(3,3),(7,3),(6,4),(5,1);
INSERT INTO "RankingList" ("rankingListId", "positionId", "listType", description) VALUES
  ('RANK001', 1, 'A', 'A-lista för Tutti violin 1 (Violin)'), ('RANK002', 1, 'B', NULL),
  ('RANK003', 3, 'A', NULL), ('RANK004', 4, 'A', NULL);
INSERT INTO "Ranking" ("rankingId", "listId", "musicianId", rank) VALUES
  ('r1', 1, 6, 1), ('r2', 1, 1, 2), ('r3', 1, 4, 3), ('r4', 1, 7, 5),
  ('r5', 2, 7, 1), ('r6', 2, 1, 2),
  ('r7', 3, 3, 1), ('r8', 3, 2, 2), ('r9', 3, 7, 3), ('r10', 4, 6, 1);
INSERT INTO "Project" ("projectId", name, "startDate", "weekNumber", "concertInfo") VALUES
  ('PROJ001', 'Beethoven 5', '2026-03-16 00:00:00', 12, 'Konserthuset 19.00'),
  ('PROJ002', 'Mahler 2', '2026-05-11 00:00:00', 21, NULL),
  ('INTEGRATION-TEST-001', 'Robot', '2026-06-01 00:00:00', 23, NULL);
INSERT INTO "CustomRankingList" ("customListId", "projectId", "positionId", name) VALUES
  ('CLIST001', 2, 3, 'V. 20 Mahler viola');
INSERT INTO "CustomRanking" ("customListId", "musicianId", rank, "updatedAt") VALUES
  (1, 7, 1, now()), (1, 2, 2, now());
INSERT INTO "ProjectNeed" ("projectNeedId", "projectId", "positionId", quantity, "rankingListId",
  "customRankingListId", "requestStrategy", "maxRecipients", "responseTimeHours", status) VALUES
  ('NEED001', 1, 1, 2, 1, NULL, 'parallel', NULL, 24, 'active'),
  ('NEED002', 1, 3, 1, 3, NULL, 'sequential', NULL, NULL, 'completed'),
  ('NEED003', 2, 3, 1, 3, 1, 'first_come', 0, 48, 'active'),
  ('NEED004', 3, 1, 1, 1, NULL, 'sequential', NULL, 24, 'active');
INSERT INTO "Request" ("requestId", "projectNeedId", "musicianId", status, "sentAt",
  "reminderSentAt", "respondedAt") VALUES
  ('REQ001', 1, 6, 'accepted', '2026-02-01 08:00:00', NULL, '2026-02-01 10:00:00'),
  ('REQ002', 1, 1, 'declined', '2026-02-01 08:00:00', NULL, '2026-02-01 09:00:00'),
  ('REQ003', 1, 7, 'pending', '2026-02-01 09:00:00', '2026-02-02 03:00:00', NULL),
  ('REQ004', 2, 3, 'timed_out', '2026-02-01 08:00:00', '2026-02-02 02:00:00', NULL),
  ('REQ005', 2, 2, 'accepted', '2026-02-02 08:00:00', NULL, '2026-02-02 12:00:00'),
  ('REQ006', 3, 7, 'cancelled', '2026-03-01 08:00:00', NULL, '2026-03-01 09:30:00'),
  ('REQ007', 3, 2, 'pending', '2026-03-01 08:00:00', NULL, NULL),
  ('REQ008', 1, 4, 'pending', '2026-02-03 08:00:00', NULL, NULL),
  ('REQ009', 4, 5, 'pending', '2026-02-03 08:00:00', NULL, NULL);
INSERT INTO "IdSequence" ("entityType", "lastNumber") VALUES
  ('musician', 3), ('instrument', 2), ('position', 3), ('rankingList', 4), ('project', 2),
  ('projectNeed', 4);
INSERT INTO "EmailTemplate" ("emailTemplateId", type, subject, body, variables, "updatedAt") VALUES
  ('template-request-sv', 'request', 'Förfrågan: {{project_name}}',
   E'Hej {{musician_name}}!\nVi söker {{quantity}} {{position}} till {{projectName}}.\n'
   'Svara inom {{response_time}} timmar: {{response_url}}', '["musician_name"]', now()),
  ('TMPL002', 'request_en', 'Request: {{projectName}}',
   E'Hello {{firstName}}, yes: {{yesLink}} no: {{noLink}}', NULL, now()),
  ('undefined001', 'reminder', 'Påminnelse {{projectName}}', 'Hej {firstName}', NULL, now()),
  ('TMPL004', 'welcome', 'Hej', 'Välkommen', '[]', now());
INSERT INTO "FileStorage" (id, "fileName", "originalName", "mimeType", size, content, "projectId")
  VALUES ('cfile1', 'x1', 'noter-viola.pdf', 'application/pdf', 8, '%PDF-1.4'::bytea, 1),
  ('cfile2', 'x2', 'program.exe', 'application/octet-stream', 2, 'MZ'::bytea, 2);
INSERT INTO "ProjectFile" ("projectFileId", "projectId", "fileName", "originalFileName", "fileUrl",
  "fileType", "projectNeedId", "sendTiming") VALUES
  ('FILE001', 1, 'Noter viola', 'noter-viola.pdf', '/api/files/cfile1', 'sheet_music', 2, 'on_accept'),
  ('FILE002', 1, 'Noter viola igen', NULL, '/api/files/cfile1', 'sheet_music', 1, 'on_accept'),
  ('FILE003', 1, 'Schema', 'schema.txt', '/uploads/schema.txt', 'general_info', NULL, 'on_request'),
  ('FILE004', 1, 'Borta', 'borta.pdf', '/uploads/borta.pdf', 'general_info', NULL, 'on_request'),
  ('FILE005', 2, 'Program', 'program.exe', '/api/files/cfile2', 'general_info', NULL, 'on_request');
INSERT INTO "Orchestra" VALUES ('cstale', 'old', 'postgresql://secret@nowhere/db');
"""


def _with_database(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def source_database(statements: str = SCHEMA + DATA):
    """A fresh database on the test server holding `statements`; its URL; dropped afterwards."""
    # The original's database is another system's: reached directly, never through our pool.
    server = without_pool(os.environ["STAGESUB_TENANT_SERVER_URL"])
    name = f"refsrc_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server, name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statements)
        yield url
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
