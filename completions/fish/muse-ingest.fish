# fish completion for muse-ingest(1): CSV/TSV tables to event streams.
complete -c muse-ingest -s f -l force -d 'Write binary output to a terminal'
complete -c muse-ingest -s h -l help -d 'Show help and exit'
complete -c muse-ingest -l max-errors -x -d 'Skip up to N bad rows'
complete -c muse-ingest -s o -l output -r -F -d 'Write FILE atomically instead of stdout'
complete -c muse-ingest -s q -l quiet -d 'Do not report skipped rows'
complete -c muse-ingest -l rejects -r -F -d 'Keep skipped rows in FILE (CSV)'
complete -c muse-ingest -s t -l table -x -a 'impressions plays affinities assets' -d 'Table of every input'
complete -c muse-ingest -s V -l version -d 'Show the version and exit'
