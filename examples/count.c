/* SPDX-License-Identifier: ISC */
/* count.c: add N to a bart counter.  cc count.c $(pkg-config --cflags --libs bart) */
#include <stdio.h>
#include <stdlib.h>

#include <bart.h>

int
main(int argc, char **argv)
{
	struct bart	*b;
	int64_t		 total;
	int		 err;

	if (argc != 3) {
		fprintf(stderr, "usage: %s HOST N\n", argv[0]);
		return 2;
	}
	/* Any transport (NULL), calls bounded at 2 seconds. */
	if ((err = bart_open(&b, argv[1], NULL, 2000)) == 0)
		err = bart_count(b, atoi(argv[2]), &total, NULL, 0);
	if (err != 0)
		fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1],
		    bart_errmsg(b));
	else
		printf("total %lld via %s\n", (long long)total, bart_netid(b));
	bart_close(b);
	return err == 0 ? 0 : 1;
}
