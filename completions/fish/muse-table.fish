# fish completion for muse-table(1): versions, files and tiers of a
# table directory.

set -l cmds log ls compact expire vacuum

complete -c muse-table -f -n "not __fish_seen_subcommand_from $cmds" -a log -d 'Every version'
complete -c muse-table -f -n "not __fish_seen_subcommand_from $cmds" -a ls -d 'The files of a version'
complete -c muse-table -f -n "not __fish_seen_subcommand_from $cmds" -a compact -d 'Rewrite old partitions as one file each'
complete -c muse-table -f -n "not __fish_seen_subcommand_from $cmds" -a expire -d 'Drop old partitions a store covers'
complete -c muse-table -f -n "not __fish_seen_subcommand_from $cmds" -a vacuum -d 'Remove old versions and unnamed files'

complete -c muse-table -l as-of -x -n '__fish_seen_subcommand_from ls' -d 'This version instead of the newest'
complete -c muse-table -l before -x -n '__fish_seen_subcommand_from compact expire' -d 'Partitions of days before DATE'
complete -c muse-table -l covered-by -r -F -n '__fish_seen_subcommand_from expire' -d 'The sketch store that covers the days'
complete -c muse-table -l grace -x -n '__fish_seen_subcommand_from vacuum' -d 'Spare files younger than SEC seconds'
complete -c muse-table -s h -l help -d 'Show help and exit'
complete -c muse-table -l keep -x -n '__fish_seen_subcommand_from vacuum' -d 'Versions kept'
complete -c muse-table -l level -x -a '3 9 19 22' -n '__fish_seen_subcommand_from compact' -d 'zstd level'
complete -c muse-table -l older-than -x -n '__fish_seen_subcommand_from compact expire' -d 'Partitions of days before today minus DAYS'
complete -c muse-table -s v -l verbose -d 'Say what was done'
complete -c muse-table -s V -l version -d 'Show the version and exit'
complete -c muse-table -n "__fish_seen_subcommand_from $cmds" -a '(__fish_complete_directories)'
