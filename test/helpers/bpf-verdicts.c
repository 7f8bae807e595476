// SPDX-License-Identifier: GPL-2.0
/*
 * bpf-verdicts: fastnet's classic BPF (kmod/fastnet/fastnet_bpf.c, built
 * here in user space) side by side with libpcap's pcap_offline_filter().
 * A host tool (it links libpcap), built and run by
 * test/unit/bpf-interpreter.test.ts; not one of the static guest helpers.
 *
 *   bpf-verdicts match EXPRESSIONS FRAMES
 *       compiles each tcpdump expression with pcap_compile (Ethernet, snap
 *       length 262144), optimized and not, checks it with
 *       fastnet_bpf_check() and runs every frame through both
 *       interpreters; prints one JSON object: counts, refusals, mismatches.
 *   bpf-verdicts check PROGRAMS
 *       one JSON line per program: fastnet_bpf_check()'s verdict, rule and
 *       instruction index.
 *   bpf-verdicts check-skb PROGRAMS
 *       the same with fastnet_bpf_check_skb(): the kernel's rules alone,
 *       as for programs that run on skbs (fastnet's copy modes).
 *   bpf-verdicts run PROGRAMS FRAMES
 *       one JSON line per program (which must pass the check): both
 *       interpreters' return values on every frame.
 *
 * Input files have one item a line, NAME<TAB>VALUE: EXPRESSIONS a tcpdump
 * expression (maybe empty), FRAMES the frame in hex (maybe empty), PROGRAMS
 * instructions as `tcpdump -dd` prints them: { code, jt, jf, k }, ...
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastnet_bpf.h"
#include <pcap/pcap.h>

#define SNAPLEN 262144
#define MAX_MISMATCHES 50	/* listed; all are counted */

/* libpcap's instructions are the kernel's, field for field. */
_Static_assert(sizeof(struct bpf_insn) == sizeof(struct sock_filter), "layout");
_Static_assert(offsetof(struct bpf_insn, k) == offsetof(struct sock_filter, k), "layout");

struct item {
	char *name;
	char *value;
};

struct frame {
	char *name;
	unsigned char *data;
	unsigned int len;
};

static void die(const char *what)
{
	fprintf(stderr, "bpf-verdicts: %s\n", what);
	exit(2);
}

/* Every NAME<TAB>VALUE line of a file; the line's own buffer is kept. */
static struct item *read_items(const char *path, size_t *count)
{
	FILE *f = fopen(path, "r");
	struct item *items = NULL;
	size_t n = 0, cap = 0;
	char *line = NULL;
	size_t size = 0;
	ssize_t got;

	if (!f)
		die(path);
	while ((got = getline(&line, &size, f)) >= 0) {
		char *tab;

		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = '\0';
		if (got == 0)
			continue;
		tab = strchr(line, '\t');
		if (!tab)
			die("a line without a tab");
		*tab = '\0';
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			items = realloc(items, cap * sizeof(*items));
			if (!items)
				die("out of memory");
		}
		items[n].name = line;
		items[n].value = tab + 1;
		n++;
		line = NULL;
		size = 0;
	}
	free(line);
	fclose(f);
	*count = n;
	return items;
}

static struct frame *read_frames(const char *path, size_t *count)
{
	struct item *items = read_items(path, count);
	struct frame *frames = calloc(*count + 1, sizeof(*frames));
	size_t i;

	if (!frames)
		die("out of memory");
	for (i = 0; i < *count; i++) {
		const char *hex = items[i].value;
		size_t digits = strlen(hex), j;

		if (digits % 2)
			die("odd number of hex digits");
		frames[i].name = items[i].name;
		frames[i].len = digits / 2;
		/* Exactly the frame: a sanitizer build sees a read past its end. */
		frames[i].data = malloc(frames[i].len);
		if (!frames[i].data && frames[i].len)
			die("out of memory");
		for (j = 0; j < frames[i].len; j++) {
			unsigned int byte;

			if (sscanf(hex + 2 * j, "%2x", &byte) != 1)
				die("bad hex");
			frames[i].data[j] = byte;
		}
	}
	free(items);
	return frames;
}

/* `tcpdump -dd` text: { code, jt, jf, k }, ... (any number, maybe none). */
static struct sock_filter *parse_program(const char *s, unsigned int *len)
{
	struct sock_filter *prog = NULL;
	size_t n = 0, cap = 0;

	while ((s = strchr(s, '{'))) {
		unsigned long v[4];
		char *end;
		int i;

		s++;
		for (i = 0; i < 4; i++) {
			v[i] = strtoul(s, &end, 0);
			if (end == s)
				die("bad instruction");
			s = end + strspn(end, " ");
			if (*s != (i < 3 ? ',' : '}'))
				die("bad instruction");
			s++;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			prog = realloc(prog, cap * sizeof(*prog));
			if (!prog)
				die("out of memory");
		}
		prog[n].code = v[0];
		prog[n].jt = v[1];
		prog[n].jf = v[2];
		prog[n].k = v[3];
		n++;
	}
	*len = n;
	return prog;
}

static void print_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", *s);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

/* libpcap's interpreter on the same instructions (the same layout). */
static unsigned int pcap_verdict(const struct sock_filter *prog, unsigned int n,
				 const struct frame *frame)
{
	struct bpf_insn insns[BPF_MAXINSNS];
	struct bpf_program bp = { .bf_len = n, .bf_insns = insns };
	struct pcap_pkthdr h = { .caplen = frame->len, .len = frame->len };
	unsigned int i;

	for (i = 0; i < n; i++) {
		insns[i].code = prog[i].code;
		insns[i].jt = prog[i].jt;
		insns[i].jf = prog[i].jf;
		insns[i].k = prog[i].k;
	}
	return pcap_offline_filter(&bp, &h, frame->data);
}

/* Where an expression's program went: its name, the text, optimized or not. */
static void print_program(FILE *out, const struct item *expr, int optimize)
{
	fprintf(out, "{\"name\":");
	print_json_string(out, expr->name);
	fprintf(out, ",\"expression\":");
	print_json_string(out, expr->value);
	fprintf(out, ",\"optimize\":%d", optimize);
}

static int cmd_match(const char *expr_path, const char *frames_path)
{
	size_t nexpr, nframes, e, f;
	struct item *exprs = read_items(expr_path, &nexpr);
	struct frame *frames = read_frames(frames_path, &nframes);
	unsigned long programs = 0, pairs = 0, accepted = 0, mismatches = 0;
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, SNAPLEN);
	/* Three lists, gathered apart and printed at the end. */
	char *bad = NULL, *errors = NULL, *perprog = NULL;
	size_t bad_size = 0, errors_size = 0, perprog_size = 0;
	FILE *bad_out = open_memstream(&bad, &bad_size);
	FILE *err_out = open_memstream(&errors, &errors_size);
	FILE *prog_out = open_memstream(&perprog, &perprog_size);
	int optimize;

	if (!dead || !bad_out || !err_out || !prog_out)
		die("pcap_open_dead or open_memstream");
	for (e = 0; e < nexpr; e++) {
		for (optimize = 1; optimize >= 0; optimize--) {
			struct bpf_program bp;
			const struct sock_filter *prog;
			const char *why = NULL;
			unsigned int at = 0, matched = 0, snap_ok = 1;

			if (pcap_compile(dead, &bp, exprs[e].value, optimize,
					 PCAP_NETMASK_UNKNOWN) < 0) {
				fputs(ftell(err_out) ? "," : "", err_out);
				print_program(err_out, &exprs[e], optimize);
				fprintf(err_out, ",\"error\":");
				print_json_string(err_out, pcap_geterr(dead));
				fputc('}', err_out);
				continue;
			}
			programs++;
			prog = (const struct sock_filter *)bp.bf_insns;
			if (fastnet_bpf_check(prog, bp.bf_len, &why, &at)) {
				fputs(ftell(err_out) ? "," : "", err_out);
				print_program(err_out, &exprs[e], optimize);
				fprintf(err_out, ",\"error\":\"refused: %s\",\"at\":%u}",
					why, at);
				pcap_freecode(&bp);
				continue;
			}
			for (f = 0; f < nframes; f++) {
				struct pcap_pkthdr h = {
					.caplen = frames[f].len, .len = frames[f].len,
				};
				unsigned int ours, theirs;

				ours = fastnet_bpf_run(prog, frames[f].data, frames[f].len);
				theirs = pcap_offline_filter(&bp, &h, frames[f].data);
				pairs++;
				if (ours)
					matched++;
				if (ours && ours != SNAPLEN)
					snap_ok = 0;
				if (ours == theirs) {
					accepted += ours != 0;
					continue;
				}
				if (++mismatches > MAX_MISMATCHES)
					continue;
				fputs(ftell(bad_out) ? "," : "", bad_out);
				print_program(bad_out, &exprs[e], optimize);
				fprintf(bad_out, ",\"frame\":");
				print_json_string(bad_out, frames[f].name);
				fprintf(bad_out, ",\"ours\":%u,\"pcap\":%u}", ours, theirs);
			}
			fputs(ftell(prog_out) ? "," : "", prog_out);
			print_program(prog_out, &exprs[e], optimize);
			fprintf(prog_out, ",\"insns\":%u,\"matched\":%u,\"snapOk\":%s}",
				bp.bf_len, matched, snap_ok ? "true" : "false");
			pcap_freecode(&bp);
		}
	}
	fclose(bad_out);
	fclose(err_out);
	fclose(prog_out);
	printf("{\"expressions\":%zu,\"programs\":%lu,\"frames\":%zu,\"pairs\":%lu,"
	       "\"accepted\":%lu,\"mismatches\":%lu,\"mismatchList\":[%s],"
	       "\"errors\":[%s],\"perProgram\":[%s]}\n",
	       nexpr, programs, nframes, pairs, accepted, mismatches, bad, errors,
	       perprog);
	free(bad);
	free(errors);
	free(perprog);
	pcap_close(dead);
	return 0;
}

static int cmd_check(const char *progs_path, int skb)
{
	size_t n, i;
	struct item *progs = read_items(progs_path, &n);

	for (i = 0; i < n; i++) {
		unsigned int len, at = 0;
		struct sock_filter *prog = parse_program(progs[i].value, &len);
		const char *why = NULL;
		int rc = skb ? fastnet_bpf_check_skb(prog, len, &why, &at) :
			       fastnet_bpf_check(prog, len, &why, &at);

		printf("{\"name\":");
		print_json_string(stdout, progs[i].name);
		printf(",\"len\":%u,\"rc\":%d,\"why\":", len, rc);
		print_json_string(stdout, why);
		printf(",\"at\":%u}\n", at);
		free(prog);
	}
	return 0;
}

static int cmd_run(const char *progs_path, const char *frames_path)
{
	size_t n, nframes, i, f;
	struct item *progs = read_items(progs_path, &n);
	struct frame *frames = read_frames(frames_path, &nframes);

	for (i = 0; i < n; i++) {
		unsigned int len, at = 0;
		struct sock_filter *prog = parse_program(progs[i].value, &len);
		const char *why = NULL;
		int rc = fastnet_bpf_check(prog, len, &why, &at);

		printf("{\"name\":");
		print_json_string(stdout, progs[i].name);
		if (rc) {
			printf(",\"rc\":%d,\"why\":", rc);
			print_json_string(stdout, why);
			printf(",\"at\":%u}\n", at);
			free(prog);
			continue;
		}
		printf(",\"rc\":0,\"ours\":[");
		for (f = 0; f < nframes; f++)
			printf("%s%u", f ? "," : "", fastnet_bpf_run(prog, frames[f].data, frames[f].len));
		printf("],\"pcap\":[");
		for (f = 0; f < nframes; f++)
			printf("%s%u", f ? "," : "", pcap_verdict(prog, len, &frames[f]));
		printf("]}\n");
		free(prog);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "match"))
		return cmd_match(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "check"))
		return cmd_check(argv[2], 0);
	if (argc == 3 && !strcmp(argv[1], "check-skb"))
		return cmd_check(argv[2], 1);
	if (argc == 4 && !strcmp(argv[1], "run"))
		return cmd_run(argv[2], argv[3]);
	fprintf(stderr, "usage: bpf-verdicts match EXPRESSIONS FRAMES | check PROGRAMS | check-skb PROGRAMS | run PROGRAMS FRAMES\n");
	return 2;
}
