# fish completion for muse-query(1): questions over sketch stores.

# Completes the item after the last comma of the current token.
function __muse_list
    set -l head (string replace -r '[^,]*$' '' -- (commandline -ct))
    for w in $argv
        printf '%s%s\n' $head $w
    end
end

# The distinct values of one key column in the stores named on the command
# line, read with muse-cat(1); nothing when there is no readable store.
function __muse_query_store_values --argument-names col
    set -l stores
    set -l skip 0
    for t in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $t
            case -a -t -s -c -d -b -m -o --asset --title --segment --country --date --by --metrics --format --ci --sketch --sketch-dir --sort --top --assets --asset-type --compare --min-reach --threshold --width --as-of --rollup
                set skip 1
            case '-*'
            case '*'
                test -f $t; and set -a stores $t
        end
    end
    test (count $stores) -gt 0; or return 0
    set -l head (string replace -r '[^,]*$' '' -- (commandline -ct))
    muse-cat -- $stores 2>/dev/null | awk -F'\t' -v name=$col '
        /^#/ { header = 1; next }
        header { c = 0; for (i = 1; i <= NF; i++) if ($i == name) c = i
            header = 0; next }
        c { print $c }' 2>/dev/null | sort -u | string replace -r '^' -- $head
end

set -l __muse_metrics impressions reach plays qplays qreach areach watch_s take_rate authentic_rate bounce_rate countries

complete -c muse-query -s a -l asset -x -a '(__muse_query_store_values asset)' -d 'Assets (globs allowed)'
complete -c muse-query -s b -l by -x -a '(__muse_list title asset date week month segment country asset_type none)' -d 'Group by'
complete -c muse-query -l ci -x -a '68 95 99' -d 'Bounds of estimates'
complete -c muse-query -s c -l country -x -a '(__muse_query_store_values country)' -d 'Countries'
complete -c muse-query -s d -l date -x -d 'Date range'
complete -c muse-query -s h -l help -d 'Show help and exit'
complete -c muse-query -s m -l metrics -x -a "(__muse_list $__muse_metrics)" -d 'Metrics'
complete -c muse-query -s o -l format -x -a 'table tsv csv json bars svg' -d 'Output format'
complete -c muse-query -s s -l segment -x -a '(__muse_query_store_values segment)' -d 'Audience segments'
complete -c muse-query -l sort -x -a "$__muse_metrics" -d 'Order rows by a metric'
complete -c muse-query -l stats -d 'Report how many blocks were read'
complete -c muse-query -l serve -d 'Answer one query per line of stdin with JSON lines'
complete -c muse-query -l sketch -x -a 'hll4 hll6 hll8 pg' -d "Add each row's reach as a DataSketches image or a PostgreSQL hll"
complete -c muse-query -l sketch-dir -x -a '(__fish_complete_directories)' -d 'Write the images as files in DIR'
complete -c muse-query -s t -l title -x -a '(__muse_query_store_values title)' -d 'Titles'
complete -c muse-query -l top -x -d 'Keep the first N rows'
complete -c muse-query -s V -l version -d 'Show the version and exit'
complete -c muse-query -l as-of -x -d 'Answer from an earlier published version'
complete -c muse-query -l alert -d 'As --outliers, and exit 1 when any row is flagged'
complete -c muse-query -l assets -r -F -d 'The assets table (CSV, TSV or event stream)'
complete -c muse-query -l rollup -r -F -d 'A week, month or quarter roll-up of the store'
complete -c muse-query -l asset-type -x -d 'Assets of these asset types'
complete -c muse-query -l compare -x -d 'Two assets side by side: A,B'
complete -c muse-query -l min-reach -x -d 'Outliers: least reach behind a rate'
complete -c muse-query -l outliers -d 'Assets far from their peers (robust z-score)'
complete -c muse-query -l threshold -x -d 'Outliers: robust z-score to flag'
complete -c muse-query -l width -x -d 'Columns of --format bars'
