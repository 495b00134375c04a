/* lookup.c - random access by step id.
 *
 *   usage: lookup ARCHIVE < IDS
 *
 * Reads step ids from standard input, one per line, and prints each record as
 * canonical JSON on standard output (one per line, in input order). An id that
 * is not in the archive gets "ID: not found" on standard error.
 * Exit 0 when every id was found, 1 otherwise, 2 on a usage error.
 *
 * steparc_reader_find_id goes through the archive's id index (a binary search
 * over sorted keys), then steparc_reader_get_json decompresses only the block
 * that holds the record; recently used blocks stay in the reader's cache.
 * Every steparc_reader_* lookup may also be called from several threads at
 * once on the same reader.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <steparc.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: lookup ARCHIVE < IDS\n");
        return 2;
    }
    char err[256];
    steparc_reader *r = NULL;
    steparc_reader_options ro;
    steparc_reader_options_init(&ro);
    ro.cache_blocks = 16; /* random access: keep more blocks decompressed */
    if (steparc_reader_open(&r, argv[1], &ro, err, sizeof err) != STEPARC_OK) {
        fprintf(stderr, "lookup: %s\n", err);
        return 1;
    }

    steparc_buf json = {0}; /* reused by every call, grown as needed */
    char line[4096];
    uint64_t found = 0, missing = 0, failed = 0;
    while (fgets(line, sizeof line, stdin) != NULL) {
        size_t len = strcspn(line, "\r\n");
        if (line[len] == '\0' && !feof(stdin)) {
            fprintf(stderr, "lookup: line too long, skipped\n");
            int ch;
            while ((ch = getchar()) != EOF && ch != '\n')
                ;
            failed++;
            continue;
        }
        line[len] = '\0';
        if (len == 0)
            continue;
        uint64_t ordinal;
        int rc = steparc_reader_find_id(&ordinal, r, line, len);
        if (rc == STEPARC_OK)
            rc = steparc_reader_get_json(&json, r, ordinal, 0);
        if (rc == STEPARC_OK) {
            fwrite(json.data, 1, json.len, stdout);
            putchar('\n');
            found++;
        } else if (rc == STEPARC_E_NOTFOUND) {
            fprintf(stderr, "%s: not found\n", line);
            missing++;
        } else {
            /* a damaged block: the rest of the archive stays readable */
            fprintf(stderr, "lookup: %s: %s (%s)\n", line, steparc_reader_errmsg(r),
                    steparc_strerror(rc));
            failed++;
        }
    }
    fflush(stdout);
    fprintf(stderr, "lookup: %" PRIu64 " found, %" PRIu64 " not found, %" PRIu64 " failed\n", found,
            missing, failed);
    steparc_buf_free(&json);
    steparc_reader_close(r);
    return missing == 0 && failed == 0 ? 0 : 1;
}
