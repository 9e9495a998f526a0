#!/usr/bin/env node
// Runs SQL files with DuckDB (the @duckdb/node-api package pinned in
// package.json), for the benchmark race of tests/bench/race.sh and the
// check of tests/bench/duckdb/verify.sh.
//
//   node run.mjs [--db FILE] [--threads N] [--memory-limit SIZE]
//                [--str NAME=VALUE]... [--num NAME=NUMBER]...
//                [--list NAME=A,B,...]... [--quiet] [--profile] SQLFILE...
//
// The SQL files are read as one text, in order.  In it, {{NAME}} is
// replaced by the value given for NAME: --str as a quoted SQL string
// literal, --num as a number (checked), --list as a parenthesised list of
// string literals ('A', 'B'), for use after IN.  Every
// statement runs in order; the rows of the last one, if it returns any,
// are printed on standard output as TSV with a header line (values as
// DuckDB renders them as text).
//
// --profile prints the time of each statement on standard error.
// With no --db the database is in memory; with --db FILE it is that file
// (created if missing).  --threads defaults to 2.
//
// On standard error, one line:
//   duckdb VERSION: open S s, sql S s, total S s, peak rss N kB
// where total counts from the start of the script (after Node itself has
// started) and peak rss is VmHWM of this process (DuckDB's threads
// included) from /proc/self/status.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const t0 = performance.now();
const { DuckDBInstance, version } = await import('@duckdb/node-api');

function usage(msg) {
	if (msg) process.stderr.write(`run.mjs: ${msg}\n`);
	process.stderr.write('usage: node run.mjs [--db FILE] [--threads N] [--memory-limit SIZE] ' +
		'[--str NAME=VALUE]... [--num NAME=NUMBER]... [--list NAME=A,B]... [--quiet] [--profile] SQLFILE...\n');
	process.exit(2);
}

const quote = (s) => "'" + String(s).replaceAll("'", "''") + "'";
const vars = new Map();
let db = ':memory:', threads = '2', memoryLimit = null, quiet = false, profile = false;
const sqlFiles = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
	const a = argv[i];
	const next = () => {
		if (i + 1 >= argv.length) usage(`${a} needs a value`);
		return argv[++i];
	};
	const kv = (s) => {
		const j = s.indexOf('=');
		if (j <= 0) usage(`bad NAME=VALUE: ${s}`);
		return [s.slice(0, j), s.slice(j + 1)];
	};
	if (a === '--db') db = next();
	else if (a === '--threads') threads = next();
	else if (a === '--memory-limit') memoryLimit = next();
	else if (a === '--quiet') quiet = true;
	else if (a === '--profile') profile = true;
	else if (a === '--str') { const [k, v] = kv(next()); vars.set(k, quote(v)); }
	else if (a === '--num') {
		const [k, v] = kv(next());
		if (!/^-?[0-9]+(\.[0-9]+)?$/.test(v)) usage(`not a number: ${v}`);
		vars.set(k, v);
	} else if (a === '--list') {
		const [k, v] = kv(next());
		vars.set(k, '(' + v.split(',').map(quote).join(', ') + ')');
	} else if (a.startsWith('-') && a !== '-') usage(`unknown option ${a}`);
	else sqlFiles.push(a);
}
if (sqlFiles.length === 0) usage();
const sqlFile = sqlFiles.join(' ');

let sql = sqlFiles.map((f) => readFileSync(f, 'utf8')).join('\n;\n');
sql = sql.replace(/\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}/g, (m, name) => {
	if (!vars.has(name)) {
		process.stderr.write(`run.mjs: ${sqlFile}: no value for {{${name}}}\n`);
		process.exit(2);
	}
	return vars.get(name);
});

const peakRss = () => {
	const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
	return m ? Number(m[1]) : -1;
};

const options = { threads };
if (memoryLimit) options.memory_limit = memoryLimit;
let t1, t2;
try {
	const instance = await DuckDBInstance.create(db, options);
	const con = await instance.connect();
	t1 = performance.now();
	const stmts = await con.extractStatements(sql);
	let reader = null;
	for (let i = 0; i < stmts.count; i++) {
		const ts = performance.now();
		const p = await stmts.prepare(i);
		reader = await p.runAndReadAll();
		if (profile)
			process.stderr.write(`statement ${i + 1}: ${((performance.now() - ts) / 1000).toFixed(3)} s\n`);
	}
	t2 = performance.now();
	if (reader && reader.columnCount > 0 && !quiet) {
		const out = [reader.columnNames().join('\t')];
		for (const row of reader.getRows())
			out.push(row.map((v) => (v === null ? '' : String(v))).join('\t'));
		process.stdout.write(out.join('\n') + '\n');
	}
	con.closeSync();
	instance.closeSync?.();
} catch (e) {
	process.stderr.write(`run.mjs: ${sqlFile}: ${e.message}\n`);
	process.exit(2);
}
const s = (ms) => (ms / 1000).toFixed(3);
process.stderr.write(`duckdb ${version()}: open ${s(t1 - t0)} s, sql ${s(t2 - t1)} s, ` +
	`total ${s(performance.now() - t0)} s, peak rss ${peakRss()} kB\n`);
