# fish completion for muse-gen(1): synthetic input tables as CSV.
complete -c muse-gen -f
complete -c muse-gen -s d -l days -x -d 'Number of days (default 7)'
complete -c muse-gen -s h -l help -d 'Print help and exit'
complete -c muse-gen -s O -l output-dir -x -a '(__fish_complete_directories)' -d 'Write all four tables into DIR'
complete -c muse-gen -s o -l output -r -F -d 'With --table: write FILE'
complete -c muse-gen -l progress -d 'Show progress even when stderr is not a terminal'
complete -c muse-gen -s q -l quiet -d 'No progress'
complete -c muse-gen -s s -l seed -x -d 'Seed (default 42)'
complete -c muse-gen -l start -x -d 'First day, YYYY-MM-DD'
complete -c muse-gen -l table -x -a 'impressions plays affinities assets' -d 'Write one table'
complete -c muse-gen -s T -l titles -x -d 'Number of titles (default 50)'
complete -c muse-gen -s u -l users -x -d 'Number of users (default 10000)'
complete -c muse-gen -s V -l version -d 'Print the version and exit'
