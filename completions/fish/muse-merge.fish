# fish completion for muse-merge(1): merge and roll up sketch streams.

# Completes the item after the last comma of the current token.
function __muse_list
    set -l head (string replace -r '[^,]*$' '' -- (commandline -ct))
    for w in $argv
        printf '%s%s\n' $head $w
    end
end

complete -c muse-merge -l drop -x -a '(__muse_list title asset date segment country)' -d 'Drop dimensions'
complete -c muse-merge -s f -l force -d 'Write binary output to a terminal'
complete -c muse-merge -s h -l help -d 'Show help and exit'
complete -c muse-merge -l memory -x -a '256M 512M 1G 2G 4G' -d 'Memory before spilling to $TMPDIR'
complete -c muse-merge -s o -l output -r -F -d 'Write FILE atomically instead of stdout'
complete -c muse-merge -l progress -d 'Show progress even when stderr is not a terminal'
complete -c muse-merge -s q -l quiet -d 'No progress'
complete -c muse-merge -l rollup -x -a 'week month quarter all' -d 'Coarsen dates'
complete -c muse-merge -s V -l version -d 'Show the version and exit'
