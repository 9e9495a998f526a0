/*
 * muse.h - the whole library in one include, for programs built against an
 * installed muse (make install; pkg-config --cflags --libs muse).
 *
 * Each module keeps its own header and symbol prefix (muse_hll_*,
 * muse_reader_*, ...); the comments there are the reference.  Installed,
 * this file sits beside a muse/ directory that holds the headers it names,
 * and make install rewrites each #include "x.h" below as "muse/x.h".
 * The order follows the dependencies: errors and buffers first, then the
 * byte input and the stream format, then what is built on them.
 */
#ifndef MUSE_H
#define MUSE_H

#include "err.h"
#include "suggest.h"
#include "buf.h"
#include "zio.h"
#include "csv.h"
#include "ts.h"
#include "event.h"
#include "hll.h"
#include "pghll.h"
#include "murmur3.h"
#include "dsketch.h"
#include "stream.h"
#include "table.h"
#include "sketch.h"
#include "store.h"
#include "ingest.h"
#include "build.h"
#include "merge.h"
#include "import.h"
#include "delta.h"
#include "assets.h"
#include "chart.h"
#include "query.h"
#include "qline.h"
#include "dump.h"
#include "gen.h"
#include "opts.h"
#include "cli.h"

#endif
