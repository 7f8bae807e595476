// SPDX-License-Identifier: GPL-2.0
/*
 * pagehold: a process that holds read-only pages of chosen contents, for
 * memory_info's tests, demo and benchmark.
 *
 * usage: pagehold [-n NAME] [-s SEED] [-u UNIQUE] [-m MAPS] [-z ZERO] [-l LAZY] [-k CHUNK] [-H] [-T]
 *                 [LABEL:COUNT]...
 *   LABEL:COUNT  COUNT pages whose contents derive from LABEL and SEED only:
 *                the same label gives the same contents, in any process
 *   -u UNIQUE    UNIQUE pages whose contents derive from the pid too: no twins
 *   -m MAPS      one more unique page (a memfd), mapped read-only MAPS times:
 *                one physical page at MAPS addresses
 *   -z ZERO      ZERO read-only anonymous pages, read but never written: the
 *                kernel's zero page, ZERO times
 *   -n NAME      process name (comm) to run under, at most 15 bytes
 *   -s SEED      mixed into every label's contents (default 0)
 *   -l LAZY      LAZY more pages, writable, mapped but not touched
 *   -k CHUNK     pages touched per SIGUSR1 (default 1)
 *   -H           let labelled and lazy pages be transparent huge pages (2 MiB aligned)
 *   -T           wait in a second thread while the main one exits (pthread_exit):
 *                the process lives on, its leader has no mm of its own
 *
 * All labelled and unique pages are written, then made read-only with
 * mprotect(). Then it prints "ready <pid> <held pages> <lazy pages>" and
 * waits. Each "touch N" line on stdin, or SIGUSR1 (CHUNK pages), writes one
 * more lazy page at a time and answers "touched <total>". It exits when
 * stdin closes.
 *
 * Contents are pseudo-random bytes, so that they never equal any other
 * page of the process (its code, its data, the zero page).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "uapi/memory_info.h"

#define HUGE_SIZE (2UL << 20)

static volatile sig_atomic_t touch_requests;

/* What serve() works on. */
static size_t page_size;
static unsigned char *lazy_pages;
static unsigned long held, lazy, chunk = 1;
static sigset_t unblocked;	/* the signal mask with SIGUSR1 let through */

static void on_sigusr1(int sig)
{
	(void)sig;
	touch_requests++;
}

static void die(const char *what)
{
	fprintf(stderr, "pagehold: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void print_usage(void)
{
	fprintf(stderr, "usage: pagehold [-n NAME] [-s SEED] [-u UNIQUE] [-m MAPS] [-z ZERO] [-l LAZY] [-k CHUNK] [-H] [-T] [LABEL:COUNT]...\n");
	exit(2);
}

static unsigned long parse_count(const char *text)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-') {
		fprintf(stderr, "pagehold: not a count: '%s'\n", text);
		exit(2);
	}
	return n;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t fnv1a64(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len--) {
		h ^= (unsigned char)*s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void fill_page(unsigned char *page, size_t page_size, uint64_t seed)
{
	uint64_t state = seed, word;
	size_t i;

	for (i = 0; i < page_size; i += sizeof(word)) {
		word = splitmix64(&state);
		memcpy(page + i, &word, sizeof(word));
	}
}

/* Anonymous private memory; 2 MiB aligned and THP-eligible if @huge. */
static unsigned char *map_pages(size_t len, int huge)
{
	size_t extra = huge ? HUGE_SIZE : 0;
	unsigned char *p;
	uintptr_t aligned;

	p = mmap(NULL, len + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	if (huge) {
		aligned = ((uintptr_t)p + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1);
		p = (unsigned char *)aligned;
	}
	/* Exact page counts: no THP unless asked for. */
	if (madvise(p, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		die("madvise");
	return p;
}

/* Reads one byte of each page: present in the page tables, never written. */
static void read_pages(const unsigned char *p, unsigned long pages)
{
	unsigned long i;

	for (i = 0; i < pages; i++)
		(void)__atomic_load_n(p + i * page_size, __ATOMIC_RELAXED);
}

/* One page of unique contents, in a memfd, mapped read-only @maps times. */
static void map_aliases(unsigned long maps)
{
	unsigned char *page, *alias;
	unsigned long i;
	int fd;

	fd = memfd_create("pagehold", 0);
	if (fd < 0 || ftruncate(fd, (off_t)page_size))
		die("memfd");
	page = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (page == MAP_FAILED)
		die("mmap memfd");
	fill_page(page, page_size, (uint64_t)getpid() << 32 ^ 0x616c696173ULL);
	munmap(page, page_size);
	for (i = 0; i < maps; i++) {
		alias = mmap(NULL, page_size, PROT_READ, MAP_SHARED, fd, 0);
		if (alias == MAP_FAILED)
			die("mmap alias");
		read_pages(alias, 1);
	}
	close(fd);
}

/* The main thread is a zombie: it called pthread_exit() and is gone. */
static int leader_gone(void)
{
	char stat[256], *end;
	FILE *f = fopen("/proc/self/stat", "r");
	int gone;

	if (!f)
		die("/proc/self/stat");
	gone = fgets(stat, sizeof(stat), f) && (end = strrchr(stat, ')')) && end[2] == 'Z';
	fclose(f);
	return gone;
}

/*
 * Announces "ready" (once the main thread is gone, if @leader_exits), then
 * answers touch requests until stdin closes, and ends the process.
 */
static void *serve(void *leader_exits)
{
	unsigned long touched = 0, want, i;
	char line[64];

	while (leader_exits && !leader_gone())
		usleep(1000);
	printf("ready %d %lu %lu\n", getpid(), held, lazy);
	fflush(stdout);

	for (;;) {
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };

		want = 0;
		if (ppoll(&pfd, 1, NULL, &unblocked) < 0) {
			if (errno != EINTR)
				die("ppoll");
			want = chunk * touch_requests;
			touch_requests = 0;
		} else {
			if (!fgets(line, sizeof(line), stdin))
				exit(0);	/* stdin closed: done */
			if (sscanf(line, "touch %lu", &want) != 1) {
				fprintf(stderr, "pagehold: unknown request: %s", line);
				continue;
			}
		}
		if (want > lazy - touched) {
			printf("error: only %lu lazy pages left\n", lazy - touched);
			fflush(stdout);
			continue;
		}
		for (i = 0; i < want; i++, touched++)
			lazy_pages[touched * page_size] = 1;
		printf("touched %lu\n", touched);
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	unsigned long unique = 0, maps = 0, zero = 0, count, i;
	unsigned char *held_pages = NULL, *p;
	const char *name = NULL;
	uint64_t seed = 0;
	struct sigaction sa;
	sigset_t block;
	int opt, huge = 0, leader_exits = 0;
	pthread_t thread;

	page_size = (size_t)sysconf(_SC_PAGESIZE);

	while ((opt = getopt(argc, argv, "n:s:u:m:z:l:k:HT")) != -1) {
		switch (opt) {
		case 'n':
			name = optarg;
			break;
		case 's':
			seed = parse_count(optarg);
			break;
		case 'u':
			unique = parse_count(optarg);
			break;
		case 'm':
			maps = parse_count(optarg);
			break;
		case 'z':
			zero = parse_count(optarg);
			break;
		case 'l':
			lazy = parse_count(optarg);
			break;
		case 'k':
			chunk = parse_count(optarg);
			break;
		case 'H':
			huge = 1;
			break;
		case 'T':
			leader_exits = 1;
			break;
		default:
			print_usage();
		}
	}
	for (i = optind; i < (unsigned long)argc; i++) {
		const char *colon = strrchr(argv[i], ':');

		if (!colon || colon == argv[i])
			print_usage();
		held += parse_count(colon + 1);
	}
	held += unique;

	if (name) {
		/* PR_SET_NAME would cut a longer name short without a word. */
		if (strlen(name) > MEMORY_INFO_NAME_MAX) {
			fprintf(stderr, "pagehold: name longer than %d bytes: '%s'\n",
				MEMORY_INFO_NAME_MAX, name);
			return 2;
		}
		if (prctl(PR_SET_NAME, name, 0, 0, 0))
			die("prctl(PR_SET_NAME)");
	}

	if (held) {
		held_pages = map_pages(held * page_size, huge);
		p = held_pages;
		for (i = optind; i < (unsigned long)argc; i++) {
			const char *colon = strrchr(argv[i], ':');
			uint64_t label = fnv1a64(argv[i], colon - argv[i]) ^ (seed * 0x9e3779b97f4a7c15ULL);

			for (count = parse_count(colon + 1); count; count--, p += page_size)
				fill_page(p, page_size, label);
		}
		for (i = 0; i < unique; i++, p += page_size)
			fill_page(p, page_size, ((uint64_t)getpid() << 32 | i) ^ 0x756e69717565ULL);
		if (mprotect(held_pages, held * page_size, PROT_READ))
			die("mprotect");
	}
	if (maps)
		map_aliases(maps);
	if (zero) {
		p = map_pages(zero * page_size, 0);
		if (mprotect(p, zero * page_size, PROT_READ))
			die("mprotect");
		read_pages(p, zero);
	}
	if (lazy)
		lazy_pages = map_pages(lazy * page_size, huge);

	/* SIGUSR1 is only taken inside ppoll(): none is lost between checks. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr1;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL))
		die("sigaction");
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &block, &unblocked))
		die("sigprocmask");
	sigdelset(&unblocked, SIGUSR1);

	/* Unbuffered, so that ppoll() sees every line still to be read. */
	setvbuf(stdin, NULL, _IONBF, 0);
	if (!leader_exits)
		serve(NULL);
	/* The new thread inherits the name and the blocked SIGUSR1. */
	errno = pthread_create(&thread, NULL, serve, &leader_exits);
	if (errno)
		die("pthread_create");
	pthread_exit(NULL);
}
