/* sqlite_static - the SQL extension built into a program (sqlite3_auto_extension),
 * for the tests that run under AddressSanitizer, where a Python or sqlite3
 * shell process cannot load an ASan-built .so.
 *
 *   sqlite_static SQL...   runs each statement on an in-memory database and
 *                          prints the rows, columns separated by '|'
 *
 * Exit 0, or 1 with SQLite's message on stderr when a statement fails. */
#include <sqlite3.h>
#include <stdio.h>

int sqlite3_steparcsqlite_init(sqlite3 *db, char **err, const sqlite3_api_routines *api);

static int print_row(void *ctx, int n, char **vals, char **names)
{
    (void)ctx;
    (void)names;
    for (int i = 0; i < n; i++)
        printf("%s%s", i ? "|" : "", vals[i] ? vals[i] : "");
    putchar('\n');
    return 0;
}

int main(int argc, char **argv)
{
    sqlite3 *db;
    sqlite3_auto_extension((void (*)(void))sqlite3_steparcsqlite_init);
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return 1;
    int status = 0;
    for (int i = 1; i < argc && !status; i++) {
        char *err = NULL;
        if (sqlite3_exec(db, argv[i], print_row, NULL, &err) != SQLITE_OK) {
            fprintf(stderr, "sqlite_static: %s\n", err ? err : sqlite3_errmsg(db));
            status = 1;
        }
        sqlite3_free(err);
    }
    sqlite3_close(db);
    sqlite3_reset_auto_extension();
    return status;
}
