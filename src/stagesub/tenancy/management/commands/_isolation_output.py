"""Shared output of the isolation commands (not a command: the name starts with an underscore)."""

import json


def write_report(command, report, as_json: bool) -> None:
    if as_json:
        command.stdout.write(json.dumps(report.as_dict(), indent=2))
        return
    for c in report.checks:
        mark = "✅" if c.reachable and c.stamp_ok and not c.shared_with else "❌"
        if c.skipped:
            mark = "⏳"
        elif not c.reachable:
            mark = "⚠️"
        counts = ", ".join(f"{k} {v}" for k, v in c.counts.items()) or "no counts"
        command.stdout.write(f"{mark} {c.subdomain:<20} {c.status:<12} {c.location}")
        if c.reachable:
            stamp = "ok" if c.stamp_ok else f"WRONG ({c.stamp or 'none'})"
            command.stdout.write(f"     stamp {stamp}; identity {c.identity}; {counts}")
        elif c.skipped:
            command.stdout.write(f"     {c.error}")
        else:
            command.stdout.write(f"     UNREACHABLE, could not check: {c.error}")
        if c.shared_with:
            command.stdout.write(
                f"     CRITICAL: shares its database with {', '.join(c.shared_with)}"
            )
    total = len([c for c in report.checks if not c.skipped])
    if report.violations:
        command.stdout.write(command.style.ERROR(f"ISOLATION VIOLATED ({len(report.violations)}):"))
        for v in report.violations:
            command.stdout.write(command.style.ERROR(f"  - {v}"))
    elif report.unreachable:
        command.stdout.write(
            command.style.WARNING(
                f"{len(report.unreachable)} of {total} databases could not be checked"
            )
        )
    else:
        command.stdout.write(
            command.style.SUCCESS(f"All {total} orchestras have their own database.")
        )
