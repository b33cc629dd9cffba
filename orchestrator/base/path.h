/* path.h — splitting a remote path that may be POSIX (/etc/x.pem) or
 * Windows (C:\Windows\Temp\x.ps1, C:/x/y, \\server\share\x): renewd builds
 * and splits paths for targets it does not run on, so the host's own
 * dirname() is no guide. */
#ifndef RENEWD_BASE_PATH_H
#define RENEWD_BASE_PATH_H
#include <stddef.h>

/* 1 when p is a Windows path: a drive letter and a colon ("C:\x", "C:/x",
 * "C:x") or a UNC path ("\\server\share"); 0 otherwise. */
int rd_path_is_windows(const char *p);

/* The length of p's directory part, its last separator included ("" -> 0,
 * "/a/b" -> 3, "b" -> 0; Windows: "C:\a\b" -> 5, "C:/a\b" -> 5, "C:b" -> 2).
 * A POSIX path's separator is '/' only ('\' is an ordinary character there);
 * a Windows path's is '/' or '\'. p + the result is the last component. */
size_t rd_path_dir_len(const char *p);

#endif
