"""The orchestra database's own bookkeeping (identity stamp) and the orchestra home page."""
