"""StageSub: substitute musicians for orchestras, one database per orchestra."""
