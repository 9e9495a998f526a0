# fish completion for muse-cat(1): print and check muse streams.
complete -c muse-cat -s c -l check -d 'Verify only'
complete -c muse-cat -s h -l help -d 'Show help and exit'
complete -c muse-cat -s o -l format -x -a 'tsv json' -d 'Output format'
complete -c muse-cat -s q -l quiet -d 'With --check, print nothing'
complete -c muse-cat -s V -l version -d 'Show the version and exit'
