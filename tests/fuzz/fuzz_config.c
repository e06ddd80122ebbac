/* libFuzzer driver for the config loader: the input is an INI file, loaded over the defaults
 * and validated. Whatever the file holds, loading and validation must not crash, and every
 * error config_load_file prints must start with "file:LINE: " for a line the file has (0 only
 * for a file that cannot be opened), since that prefix is all an operator has to find it.
 * The file lives in a private temporary directory made once per process (/dev/shm if it can). */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 16384

static char path[64];
static size_t path_len;
static long file_lines; /* lines in the current input, counting an unterminated last one */

static void check_prefix(const char *line) {
    if (strncmp(line, path, path_len) != 0 || line[path_len] != ':')
        abort();
    const char *p = line + path_len + 1;
    char *end;
    long n = strtol(p, &end, 10);
    if (end == p || !isdigit((unsigned char)*p) || strncmp(end, ": ", 2) != 0)
        abort();
    if (n < 1 || n > file_lines)
        abort();
}

static void ignore(const char *line) {
    (void)line;
}

static void cleanup(void) {
    unlink(path);
    *strrchr(path, '/') = '\0';
    rmdir(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > MAX_INPUT)
        return 0;
    if (path_len == 0) {
        /* In memory when the machine has a tmpfs: a file on disk per input costs a block
         * write and made the driver ten times slower. */
        char shm[] = "/dev/shm/fuzz-config-XXXXXX", tmp[] = "/tmp/fuzz-config-XXXXXX";
        char *dir = mkdtemp(shm) != NULL ? shm : mkdtemp(tmp);
        if (dir == NULL)
            abort();
        snprintf(path, sizeof(path), "%s/in.ini", dir);
        path_len = strlen(path);
        atexit(cleanup);
    }
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    file_lines = 0;
    for (size_t i = 0; i < size; i++)
        file_lines += data[i] == '\n';
    if (size > 0 && data[size - 1] != '\n')
        file_lines++;

    struct config *cfg = config_new();
    config_load_file(cfg, path, check_prefix);
    config_validate(cfg, ignore);
    config_free(cfg);
    return 0;
}
