// SPDX-License-Identifier: GPL-2.0
/*
 * The fastnet handles of the process: a fixed table of pointers, written
 * under a mutex and read without one (pcap_breakloop() looks a handle up
 * from a signal handler), and the real libpcap's functions, found with
 * dlsym(RTLD_NEXT) the first time each is needed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fastnet_pcap.h"

#define FNP_MAX_HANDLES	256

static struct fnp *table[FNP_MAX_HANDLES];
static int live;	/* entries in use: 0 keeps other handles' calls quick */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

void *fnp_real(const char *name, void **cache)
{
	void *fn = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
	static const char msg[] = "libpcap-fastnet: libpcap is not loaded in this process\n";

	if (fn)
		return fn;
	fn = dlsym(RTLD_NEXT, name);
	if (!fn) {
		/* The program called libpcap without libpcap: nothing to go on with. */
		if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
			abort();
		abort();
	}
	__atomic_store_n(cache, fn, __ATOMIC_RELEASE);
	return fn;
}

bool fnp_is_name(const char *device)
{
	return device &&
	       (!strncmp(device, FNP_PREFIX_RING, strlen(FNP_PREFIX_RING)) ||
		!strncmp(device, FNP_PREFIX_ZC, strlen(FNP_PREFIX_ZC)));
}

struct fnp *fnp_lookup(pcap_t *p)
{
	int i;

	if (!p || !__atomic_load_n(&live, __ATOMIC_ACQUIRE))
		return NULL;
	for (i = 0; i < FNP_MAX_HANDLES; i++) {
		struct fnp *f = __atomic_load_n(&table[i], __ATOMIC_ACQUIRE);

		if (f && f->handle == p)
			return f;
	}
	return NULL;
}

struct fnp *fnp_new(const char *device, char *errbuf)
{
	bool zc = !strncmp(device, FNP_PREFIX_ZC, strlen(FNP_PREFIX_ZC));
	const char *ifname = device + strlen(zc ? FNP_PREFIX_ZC : FNP_PREFIX_RING);
	struct fnp *f;
	int i;

	f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: out of memory", device);
		return NULL;
	}
	f->handle = REAL(pcap_open_dead)(DLT_EN10MB, FNP_MAX_SNAPLEN);
	if (!f->handle) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: out of memory", device);
		free(f);
		return NULL;
	}
	f->errbuf = REAL(pcap_geterr)(f->handle);
	f->errbuf[0] = '\0';
	snprintf(f->device, sizeof(f->device), "%s", device);
	f->name_too_long = strlen(ifname) >= FASTNET_IFNAMSIZ ||
			   strlen(device) >= sizeof(f->device);
	snprintf(f->ifname, sizeof(f->ifname), "%s", ifname);
	f->zerocopy = zc;
	f->snaplen = FNP_MAX_SNAPLEN;
	f->precision = PCAP_TSTAMP_PRECISION_MICRO;
	f->direction = PCAP_D_INOUT;
	f->fd = -1;
	f->wake_fd = -1;
	f->promisc_fd = -1;

	pthread_mutex_lock(&table_lock);
	for (i = 0; i < FNP_MAX_HANDLES; i++) {
		if (!table[i]) {
			__atomic_store_n(&table[i], f, __ATOMIC_RELEASE);
			__atomic_add_fetch(&live, 1, __ATOMIC_RELEASE);
			break;
		}
	}
	pthread_mutex_unlock(&table_lock);
	if (i == FNP_MAX_HANDLES) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE,
			 "%s: too many fastnet handles in this process (%d at most)",
			 device, FNP_MAX_HANDLES);
		REAL(pcap_close)(f->handle);
		free(f);
		return NULL;
	}
	return f;
}

void fnp_free(struct fnp *f)
{
	int i;

	pthread_mutex_lock(&table_lock);
	for (i = 0; i < FNP_MAX_HANDLES; i++) {
		if (table[i] == f) {
			__atomic_store_n(&table[i], NULL, __ATOMIC_RELEASE);
			__atomic_sub_fetch(&live, 1, __ATOMIC_RELEASE);
			break;
		}
	}
	pthread_mutex_unlock(&table_lock);
	fnp_teardown(f);
	if (f->active)
		REAL(pcap_close)(f->active);
	REAL(pcap_close)(f->handle);
	free(f);
}

void fnp_err(struct fnp *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->errbuf, PCAP_ERRBUF_SIZE, fmt, ap);
	va_end(ap);
}

int fnp_not_activated(struct fnp *f)
{
	fnp_err(f, "%s: this call needs an activated capture: call pcap_activate() first",
		f->device);
	return PCAP_ERROR_NOT_ACTIVATED;
}

int fnp_activated_error(struct fnp *f)
{
	fnp_err(f, "%s: the setting can't be changed after the capture is activated",
		f->device);
	return PCAP_ERROR_ACTIVATED;
}

