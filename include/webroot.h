/* The static files the bridge can serve (the demo page, or your own), from one directory
 * (`static_dir`). Pure: webroot_resolve turns a decoded request path into a file name
 * relative to that directory, or refuses it; the HTTP side opens the file and also checks
 * that its real path stays inside the directory (symbolic links).
 *
 * Safety invariant: a name that webroot_resolve returns is made of segments of
 * [A-Za-z0-9_.-] that do not start with '.', joined by '/': no "..", no hidden files, no
 * absolute path, nothing a traversal could use. */
#ifndef WEBROOT_H
#define WEBROOT_H

#include <stddef.h>

/* "/" and "/dir/" name the index file ("index.html"). Returns the length written to out
 * (with a NUL), or -1: not a name this directory serves (the caller answers 404). */
int webroot_resolve(const char *path, char *out, size_t cap);

/* The Content-Type for a file name, by extension (application/octet-stream otherwise). */
const char *webroot_content_type(const char *name);

#endif
