// SPDX-License-Identifier: GPL-2.0
/*
 * pcap-next DEVICE COUNT [FILTER]: a plain libpcap program, as a user would
 * write one: pcap_open_live(), non-blocking, poll() on
 * pcap_get_selectable_fd(), then pcap_next_ex() until it has nothing more.
 * Prints "listening on DEVICE" to stderr once open, then a line per frame
 * on stdout ("frame LEN CAPLEN HEX"), then "polls N" and the counters
 * ("stats RECV DROP IFDROP"). Exit status 1 with libpcap's message on
 * stderr if the capture cannot open; 3 if no frame comes for 20 s.
 * Linked dynamically, so that LD_PRELOAD=libpcap-fastnet.so answers it.
 */
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct bpf_program program;
	struct pcap_pkthdr *h;
	const u_char *data;
	struct pcap_stat st;
	long count, got = 0, polls = 0;
	struct pollfd pfd;
	pcap_t *p;
	int ret = 0;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: pcap-next DEVICE COUNT [FILTER]\n");
		return 2;
	}
	count = strtol(argv[2], NULL, 10);
	p = pcap_open_live(argv[1], 262144, 0, 1000, errbuf);
	if (!p) {
		fprintf(stderr, "pcap_open_live: %s\n", errbuf);
		return 1;
	}
	if (pcap_setnonblock(p, 1, errbuf) < 0) {
		fprintf(stderr, "pcap_setnonblock: %s\n", errbuf);
		return 1;
	}
	if (argc == 4) {
		if (pcap_compile(p, &program, argv[3], 1, PCAP_NETMASK_UNKNOWN) < 0 ||
		    pcap_setfilter(p, &program) < 0) {
			fprintf(stderr, "filter: %s\n", pcap_geterr(p));
			return 1;
		}
		pcap_freecode(&program);
	}
	pfd.fd = pcap_get_selectable_fd(p);
	pfd.events = POLLIN;
	if (pfd.fd < 0) {
		fprintf(stderr, "pcap_get_selectable_fd: none\n");
		return 1;
	}
	fprintf(stderr, "listening on %s\n", argv[1]);
	while (got < count) {
		int n = poll(&pfd, 1, 20000);

		if (n < 0) {
			perror("poll");
			return 1;
		}
		if (n == 0) {
			fprintf(stderr, "no frame for 20 s (%ld of %ld)\n", got, count);
			ret = 3;
			break;
		}
		polls++;
		while (got < count && (n = pcap_next_ex(p, &h, &data)) == 1) {
			bpf_u_int32 i;

			printf("frame %u %u ", h->len, h->caplen);
			for (i = 0; i < h->caplen; i++)
				printf("%02x", data[i]);
			printf("\n");
			got++;
		}
		if (n < 0) {
			fprintf(stderr, "pcap_next_ex: %s\n", pcap_geterr(p));
			return 1;
		}
	}
	if (pcap_stats(p, &st) < 0) {
		fprintf(stderr, "pcap_stats: %s\n", pcap_geterr(p));
		return 1;
	}
	printf("polls %ld\nstats %u %u %u\n", polls, st.ps_recv, st.ps_drop, st.ps_ifdrop);
	pcap_close(p);
	return ret;
}
