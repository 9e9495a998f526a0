# fish completion for muse-delta(1): deltas between versions of a store,
# and publishing directories.

set -l cmds diff apply reverse stamp info publish checkout

complete -c muse-delta -f -n "not __fish_seen_subcommand_from $cmds" -a diff -d 'The delta from OLD to NEW'
complete -c muse-delta -f -n "not __fish_seen_subcommand_from $cmds" -a apply -d 'Apply deltas to a store'
complete -c muse-delta -f -n "not __fish_seen_subcommand_from $cmds" -a reverse -d 'The delta that undoes a delta'
complete -c muse-delta -f -n "not __fish_seen_subcommand_from $cmds" -a stamp -d 'A store with another version'
complete -c muse-delta -f -n "not __fish_seen_subcommand_from $cmds" -a info -d 'Check and describe stores and deltas'
complete -c muse-delta -f -n "not __fish_seen_subcommand_from $cmds" -a publish -d 'Publish the next version in a directory'
complete -c muse-delta -f -n "not __fish_seen_subcommand_from $cmds" -a checkout -d 'A version of a publishing directory'

complete -c muse-delta -s f -l force -d 'Write binary output to a terminal'
complete -c muse-delta -s h -l help -d 'Show help and exit'
complete -c muse-delta -l in-place -n '__fish_seen_subcommand_from apply stamp' -d 'Replace STORE atomically'
complete -c muse-delta -s o -l output -r -F -d 'Write FILE atomically instead of stdout'
complete -c muse-delta -l progress -n '__fish_seen_subcommand_from diff apply reverse publish' -d 'Show progress even when stderr is not a terminal'
complete -c muse-delta -s q -l quiet -d 'No progress'
complete -c muse-delta -l reverse -r -F -n '__fish_seen_subcommand_from diff' -d 'Also write the reverse delta to FILE'
complete -c muse-delta -l snapshot-every -x -a '5 7 10 30' -n '__fish_seen_subcommand_from publish' -d 'A whole store every N versions'
complete -c muse-delta -l to-version -x -n '__fish_seen_subcommand_from diff' -d 'The version the delta produces'
complete -c muse-delta -s V -l version -d 'Show the version and exit'
