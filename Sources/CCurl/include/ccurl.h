#ifndef PROCRUN_CCURL_H
#define PROCRUN_CCURL_H

/* libcurl, loaded when the first request is made rather than when procrun starts: curl and the
   thirty libraries it pulls in (TLS, Kerberos, LDAP, …) cost start-up time that commands which
   never send anything (validate, start, tasks, …) should not pay. curl's headers give the types
   and constants; every function goes through a pointer resolved by dlopen/dlsym on first use.
   curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic, which Swift cannot
   call: one typed wrapper per argument kind. */

#include <curl/curl.h>

/* Loads libcurl once; 0 on success. On failure the message says why. */
int procrun_curl_load(void);
const char *procrun_curl_load_error(void);

CURLcode procrun_curl_global_init(long flags);
CURL *procrun_curl_easy_init(void);
void procrun_curl_easy_cleanup(CURL *handle);
const char *procrun_curl_easy_strerror(CURLcode code);
struct curl_slist *procrun_curl_slist_append(struct curl_slist *list, const char *string);
void procrun_curl_slist_free_all(struct curl_slist *list);

CURLM *procrun_curl_multi_init(void);
CURLMcode procrun_curl_multi_add_handle(CURLM *multi, CURL *handle);
CURLMcode procrun_curl_multi_remove_handle(CURLM *multi, CURL *handle);
CURLMcode procrun_curl_multi_perform(CURLM *multi, int *running);
CURLMcode procrun_curl_multi_poll(CURLM *multi, struct curl_waitfd *extra, unsigned int count, int timeout, int *ready);
CURLMcode procrun_curl_multi_wakeup(CURLM *multi);
CURLMsg *procrun_curl_multi_info_read(CURLM *multi, int *left);
CURLMcode procrun_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value);

CURLcode procrun_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode procrun_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode procrun_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode procrun_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode procrun_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);

typedef size_t (*procrun_curl_data_callback)(char *data, size_t size, size_t count, void *context);
CURLcode procrun_curl_setopt_write(CURL *handle, procrun_curl_data_callback callback, void *context);
CURLcode procrun_curl_setopt_header(CURL *handle, procrun_curl_data_callback callback, void *context);
/* An upload (an SMTP message): libcurl asks the callback for the next bytes, 0 at the end. */
CURLcode procrun_curl_setopt_read(CURL *handle, procrun_curl_data_callback callback, void *context);
CURLcode procrun_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode procrun_curl_getinfo_private(CURL *handle, void **value);

/* CURLMsg.data is a union; read the result without touching it from Swift. */
static inline CURLcode procrun_curl_msg_result(CURLMsg *message) {
    return message->data.result;
}
static inline int procrun_curl_msg_done(CURLMsg *message) {
    return message->msg == CURLMSG_DONE;
}

#endif
