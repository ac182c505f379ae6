"""Questions in, SQL and rows out: retrieve -> prompt -> generate -> validate -> repair ->
execute -> summarise (composed in :mod:`nl2sql.pipeline`)."""
