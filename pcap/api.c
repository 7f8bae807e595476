// SPDX-License-Identifier: GPL-2.0
/*
 * libpcap's public functions that this library answers for fastnet handles.
 * Each looks its handle up; any other handle (and any other device name)
 * goes to the real libpcap, untouched. Functions not here are libpcap's
 * alone: the handle they get is a valid pcap_open_dead() one
 * (test/unit/pcap-preload.test.ts keeps the list of those reviewed as safe).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fastnet_pcap.h"

#define EXPORT __attribute__((visibility("default")))

/* Resolved early: pcap_breakloop() may first run in a signal handler. */
static void (*real_breakloop)(pcap_t *);

__attribute__((constructor)) static void fnp_init(void)
{
	real_breakloop = (void (*)(pcap_t *))dlsym(RTLD_NEXT, "pcap_breakloop");
}

EXPORT pcap_t *pcap_create(const char *source, char *errbuf)
{
	struct fnp *f;

	if (!fnp_is_name(source))
		return REAL(pcap_create)(source, errbuf);
	f = fnp_new(source, errbuf);
	return f ? f->handle : NULL;
}

EXPORT int pcap_activate(pcap_t *p)
{
	struct fnp *f = fnp_lookup(p);

	return f ? fnp_activate(f) : REAL(pcap_activate)(p);
}

EXPORT pcap_t *pcap_open_live(const char *device, int snaplen, int promisc,
			      int to_ms, char *errbuf)
{
	struct fnp *f;
	int status;

	if (!fnp_is_name(device))
		return REAL(pcap_open_live)(device, snaplen, promisc, to_ms, errbuf);
	f = fnp_new(device, errbuf);
	if (!f)
		return NULL;
	f->snaplen = snaplen;
	f->promisc = promisc;
	f->timeout_ms = to_ms;
	status = fnp_activate(f);
	if (status < 0) {
		/* libpcap's shape: the device, then why. */
		if (status == PCAP_ERROR)
			snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s", f->errbuf);
		else
			snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: %s (%s)", device,
				 REAL(pcap_statustostr)(status), f->errbuf);
		fnp_free(f);
		return NULL;
	}
	return f->handle;
}

EXPORT void pcap_close(pcap_t *p)
{
	struct fnp *f = fnp_lookup(p);

	if (f)
		fnp_free(f);
	else
		REAL(pcap_close)(p);
}

/* The setters: stored for pcap_activate(), refused after it. */
#define FNP_SETTER(name, field)						\
EXPORT int name(pcap_t *p, int value)					\
{									\
	struct fnp *f = fnp_lookup(p);					\
									\
	if (!f)								\
		return REAL(name)(p, value);				\
	if (f->activated)						\
		return fnp_activated_error(f);				\
	f->field = value;						\
	return 0;							\
}

FNP_SETTER(pcap_set_snaplen, snaplen)
FNP_SETTER(pcap_set_promisc, promisc)
FNP_SETTER(pcap_set_timeout, timeout_ms)
FNP_SETTER(pcap_set_buffer_size, buffer_size)
FNP_SETTER(pcap_set_immediate_mode, immediate)
FNP_SETTER(pcap_set_rfmon, rfmon)

EXPORT int pcap_set_tstamp_precision(pcap_t *p, int precision)
{
	struct fnp *f = fnp_lookup(p);

	if (!f)
		return REAL(pcap_set_tstamp_precision)(p, precision);
	if (f->activated)
		return fnp_activated_error(f);
	if (precision != PCAP_TSTAMP_PRECISION_MICRO &&
	    precision != PCAP_TSTAMP_PRECISION_NANO)
		return PCAP_ERROR_TSTAMP_PRECISION_NOTSUP;
	f->precision = precision;
	return 0;
}

EXPORT int pcap_get_tstamp_precision(pcap_t *p)
{
	struct fnp *f = fnp_lookup(p);

	return f ? f->precision : REAL(pcap_get_tstamp_precision)(p);
}

/* fastnet's time stamps are the host's (CLOCK_REALTIME): that type only. */
EXPORT int pcap_set_tstamp_type(pcap_t *p, int type)
{
	struct fnp *f = fnp_lookup(p);

	if (!f)
		return REAL(pcap_set_tstamp_type)(p, type);
	if (f->activated)
		return fnp_activated_error(f);
	return type == PCAP_TSTAMP_HOST ? 0 : PCAP_WARNING_TSTAMP_TYPE_NOTSUP;
}

EXPORT int pcap_can_set_rfmon(pcap_t *p)
{
	struct fnp *f = fnp_lookup(p);

	if (!f)
		return REAL(pcap_can_set_rfmon)(p);
	return f->activated ? fnp_activated_error(f) : 0;
}

EXPORT int pcap_dispatch(pcap_t *p, int cnt, pcap_handler callback, u_char *user)
{
	struct fnp *f = fnp_lookup(p);

	return f ? fnp_read(f, cnt, callback, user) :
		   REAL(pcap_dispatch)(p, cnt, callback, user);
}

/* As libpcap's on a live capture: until cnt frames, an error or a break. */
EXPORT int pcap_loop(pcap_t *p, int cnt, pcap_handler callback, u_char *user)
{
	struct fnp *f = fnp_lookup(p);
	int n;

	if (!f)
		return REAL(pcap_loop)(p, cnt, callback, user);
	for (;;) {
		do {
			n = fnp_read(f, cnt, callback, user);
		} while (n == 0);
		if (n < 0)
			return n;
		if (cnt > 0) {
			cnt -= n;
			if (cnt <= 0)
				return 0;
		}
	}
}

static void copy_frame(u_char *user, const struct pcap_pkthdr *h,
		       const u_char *bytes)
{
	struct fnp *f = (struct fnp *)user;

	f->copy_hdr = *h;
	memcpy(f->copy, bytes, h->caplen);
}

/* The frame is copied out of its slot, which goes back to the kernel at once. */
EXPORT int pcap_next_ex(pcap_t *p, struct pcap_pkthdr **header,
			const u_char **data)
{
	struct fnp *f = fnp_lookup(p);
	int n;

	if (!f)
		return REAL(pcap_next_ex)(p, header, data);
	n = fnp_read(f, 1, copy_frame, (u_char *)f);
	if (n == 1) {
		*header = &f->copy_hdr;
		*data = f->copy;
	}
	return n;
}

EXPORT const u_char *pcap_next(pcap_t *p, struct pcap_pkthdr *h)
{
	struct fnp *f = fnp_lookup(p);

	if (!f)
		return REAL(pcap_next)(p, h);
	if (fnp_read(f, 1, copy_frame, (u_char *)f) != 1)
		return NULL;
	*h = f->copy_hdr;
	return f->copy;
}

EXPORT void pcap_breakloop(pcap_t *p)
{
	struct fnp *f = fnp_lookup(p);

	if (f)
		fnp_breakloop(f);
	else if (real_breakloop)
		real_breakloop(p);
	else
		REAL(pcap_breakloop)(p);
}

EXPORT int pcap_setfilter(pcap_t *p, struct bpf_program *fp)
{
	struct fnp *f = fnp_lookup(p);

	return f ? fnp_setfilter(f, fp) : REAL(pcap_setfilter)(p, fp);
}

/* fastnet sees the frames a device receives: direction in, or both. */
EXPORT int pcap_setdirection(pcap_t *p, pcap_direction_t d)
{
	struct fnp *f = fnp_lookup(p);

	if (!f)
		return REAL(pcap_setdirection)(p, d);
	if (!f->activated)
		return fnp_not_activated(f);
	if (d == PCAP_D_OUT) {
		fnp_err(f, "%s: fastnet captures the frames %s receives only: no outgoing direction",
			f->device, f->ifname);
		return PCAP_ERROR;
	}
	f->direction = d;
	return 0;
}

EXPORT int pcap_setnonblock(pcap_t *p, int nonblock, char *errbuf)
{
	struct fnp *f = fnp_lookup(p);

	if (!f)
		return REAL(pcap_setnonblock)(p, nonblock, errbuf);
	f->nonblock = nonblock != 0;
	return 0;
}

EXPORT int pcap_getnonblock(pcap_t *p, char *errbuf)
{
	struct fnp *f = fnp_lookup(p);

	return f ? f->nonblock : REAL(pcap_getnonblock)(p, errbuf);
}

/* The session's descriptor: poll() reports it readable when frames wait. */
EXPORT int pcap_get_selectable_fd(pcap_t *p)
{
	struct fnp *f = fnp_lookup(p);

	return f ? f->fd : REAL(pcap_get_selectable_fd)(p);
}

EXPORT int pcap_fileno(pcap_t *p)
{
	struct fnp *f = fnp_lookup(p);

	return f ? f->fd : REAL(pcap_fileno)(p);
}

EXPORT int pcap_stats(pcap_t *p, struct pcap_stat *ps)
{
	struct fnp *f = fnp_lookup(p);

	return f ? fnp_stats(f, ps) : REAL(pcap_stats)(p, ps);
}

EXPORT int pcap_datalink(pcap_t *p)
{
	struct fnp *f = fnp_lookup(p);

	if (!f)
		return REAL(pcap_datalink)(p);
	return f->activated ? DLT_EN10MB : fnp_not_activated(f);
}

EXPORT int pcap_snapshot(pcap_t *p)
{
	struct fnp *f = fnp_lookup(p);

	if (!f)
		return REAL(pcap_snapshot)(p);
	return f->activated ? f->snaplen : fnp_not_activated(f);
}

EXPORT char *pcap_geterr(pcap_t *p)
{
	struct fnp *f = fnp_lookup(p);

	return f ? f->errbuf : REAL(pcap_geterr)(p);
}

EXPORT int pcap_inject(pcap_t *p, const void *buf, size_t size)
{
	struct fnp *f = fnp_lookup(p);

	if (!f)
		return REAL(pcap_inject)(p, buf, size);
	fnp_err(f, "%s: fastnet captures: it cannot send frames", f->device);
	return PCAP_ERROR;
}

EXPORT int pcap_sendpacket(pcap_t *p, const u_char *buf, int size)
{
	struct fnp *f = fnp_lookup(p);

	if (!f)
		return REAL(pcap_sendpacket)(p, buf, size);
	fnp_err(f, "%s: fastnet captures: it cannot send frames", f->device);
	return PCAP_ERROR;
}

/*
 * libpcap's own, on the handle that has the activated snap length and
 * precision (filters return the snap length; savefiles record both). Its
 * errors are copied to the program's handle.
 */
static pcap_t *settings_handle(struct fnp *f)
{
	if (f->activated)
		return f->active;
	fnp_not_activated(f);
	return NULL;
}

EXPORT int pcap_compile(pcap_t *p, struct bpf_program *fp, const char *str,
			int optimize, bpf_u_int32 netmask)
{
	struct fnp *f = fnp_lookup(p);
	pcap_t *active;
	int ret;

	if (!f)
		return REAL(pcap_compile)(p, fp, str, optimize, netmask);
	active = settings_handle(f);
	if (!active)
		return PCAP_ERROR;
	ret = REAL(pcap_compile)(active, fp, str, optimize, netmask);
	if (ret < 0)
		snprintf(f->errbuf, PCAP_ERRBUF_SIZE, "%s", REAL(pcap_geterr)(active));
	return ret;
}

#define FNP_DUMPER(name, params, args)					\
EXPORT pcap_dumper_t *name params					\
{									\
	struct fnp *f = fnp_lookup(p);					\
	pcap_dumper_t *d;						\
									\
	if (!f)								\
		return REAL(name) args;					\
	p = settings_handle(f);						\
	if (!p)								\
		return NULL;						\
	d = REAL(name) args;						\
	if (!d)								\
		snprintf(f->errbuf, PCAP_ERRBUF_SIZE, "%s", REAL(pcap_geterr)(p)); \
	return d;							\
}

FNP_DUMPER(pcap_dump_open, (pcap_t *p, const char *fname), (p, fname))
FNP_DUMPER(pcap_dump_open_append, (pcap_t *p, const char *fname), (p, fname))
FNP_DUMPER(pcap_dump_fopen, (pcap_t *p, FILE *fp), (p, fp))

/* The device's own address and mask, for pcap_compile()'s netmask. */
EXPORT int pcap_lookupnet(const char *device, bpf_u_int32 *net,
			  bpf_u_int32 *mask, char *errbuf)
{
	if (fnp_is_name(device))
		device = strchr(device, ':') + 1;
	return REAL(pcap_lookupnet)(device, net, mask, errbuf);
}

/* An Ethernet device: ARPHRD_ETHER in sysfs (fastnet binds no other). */
static bool is_ethernet(const char *name)
{
	char path[128];
	FILE *file;
	int type = -1;

	if (strchr(name, '/') || strlen(name) >= FASTNET_IFNAMSIZ)
		return false;
	snprintf(path, sizeof(path), "/sys/class/net/%s/type", name);
	file = fopen(path, "re");
	if (!file)
		return false;
	if (fscanf(file, "%d", &type) != 1)
		type = -1;
	fclose(file);
	return type == ARPHRD_ETHER;
}

static pcap_if_t *fastnet_entry(const char *prefix, const pcap_if_t *dev)
{
	pcap_if_t *entry = calloc(1, sizeof(*entry));
	size_t size = strlen(prefix) + strlen(dev->name) + 1;
	char description[128];

	if (!entry)
		return NULL;
	entry->name = malloc(size);
	snprintf(description, sizeof(description), "%s through fastnet%s",
		 dev->name, strcmp(prefix, FNP_PREFIX_ZC) ? "" :
		 " zero-copy (the project's e1000 and virtio_net)");
	entry->description = strdup(description);
	if (!entry->name || !entry->description) {
		free(entry->name);
		free(entry->description);
		free(entry);
		return NULL;
	}
	snprintf(entry->name, size, "%s%s", prefix, dev->name);
	entry->flags = dev->flags & ~PCAP_IF_LOOPBACK;
	return entry;
}

/* The drivers the project patches for fastnet zero-copy (kmod/<driver>-zc). */
static bool has_zero_copy(const char *driver)
{
	return !strcmp(driver, "e1000") || !strcmp(driver, "virtio_net");
}

/*
 * libpcap's list, then fastnet:DEV for each Ethernet device, and
 * fastnet-zc:DEV beside it for those whose driver has zero-copy. The entries are allocated as
 * libpcap allocates its own, so pcap_freealldevs() frees them.
 */
EXPORT int pcap_findalldevs(pcap_if_t **alldevsp, char *errbuf)
{
	pcap_if_t *dev, *last = NULL, *added = NULL, **tail = &added;
	int ret = REAL(pcap_findalldevs)(alldevsp, errbuf);

	if (ret < 0)
		return ret;
	for (dev = *alldevsp; dev; dev = dev->next) {
		char driver_link[128], target[256];
		ssize_t n;
		pcap_if_t *entry;

		last = dev;
		if (!is_ethernet(dev->name))
			continue;
		entry = fastnet_entry(FNP_PREFIX_RING, dev);
		if (!entry)
			break;
		*tail = entry;
		tail = &entry->next;
		snprintf(driver_link, sizeof(driver_link),
			 "/sys/class/net/%s/device/driver", dev->name);
		n = readlink(driver_link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (!has_zero_copy(strrchr(target, '/') ? strrchr(target, '/') + 1 : target))
			continue;
		entry = fastnet_entry(FNP_PREFIX_ZC, dev);
		if (!entry)
			break;
		*tail = entry;
		tail = &entry->next;
	}
	if (last)
		last->next = added;
	else
		*alldevsp = added;
	return ret;
}
