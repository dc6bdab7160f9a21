#include "ccurl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_perform)(CURLM *, int *);
    CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned int, int, int *);
    CURLMcode (*multi_wakeup)(CURLM *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
} api;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded = -1;
static char load_error[512] = "libcurl was not loaded";

#define RESOLVE(field, name)                                                                       \
    do {                                                                                           \
        *(void **)(&api.field) = dlsym(library, name);                                             \
        if (api.field == NULL) {                                                                   \
            snprintf(load_error, sizeof load_error, "libcurl has no %s: %s", name, dlerror());     \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static void load(void) {
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) library = dlopen("libcurl.so", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(load_error, sizeof load_error, "cannot load libcurl (install libcurl4): %s", dlerror());
        return;
    }
    RESOLVE(global_init, "curl_global_init");
    RESOLVE(easy_init, "curl_easy_init");
    RESOLVE(easy_cleanup, "curl_easy_cleanup");
    RESOLVE(easy_strerror, "curl_easy_strerror");
    RESOLVE(easy_setopt, "curl_easy_setopt");
    RESOLVE(easy_getinfo, "curl_easy_getinfo");
    RESOLVE(slist_append, "curl_slist_append");
    RESOLVE(slist_free_all, "curl_slist_free_all");
    RESOLVE(multi_init, "curl_multi_init");
    RESOLVE(multi_add_handle, "curl_multi_add_handle");
    RESOLVE(multi_remove_handle, "curl_multi_remove_handle");
    RESOLVE(multi_perform, "curl_multi_perform");
    RESOLVE(multi_poll, "curl_multi_poll");
    RESOLVE(multi_wakeup, "curl_multi_wakeup");
    RESOLVE(multi_info_read, "curl_multi_info_read");
    RESOLVE(multi_setopt, "curl_multi_setopt");
    loaded = 0;
}

int procrun_curl_load(void) {
    pthread_once(&once, load);
    return loaded;
}

const char *procrun_curl_load_error(void) { return load_error; }

/* Every entry point but procrun_curl_load assumes a successful load: the transport loads first
   and reports the error instead of making requests. */
CURLcode procrun_curl_global_init(long flags) { return procrun_curl_load() == 0 ? api.global_init(flags) : CURLE_FAILED_INIT; }
CURL *procrun_curl_easy_init(void) { return procrun_curl_load() == 0 ? api.easy_init() : NULL; }
void procrun_curl_easy_cleanup(CURL *handle) { api.easy_cleanup(handle); }
const char *procrun_curl_easy_strerror(CURLcode code) { return api.easy_strerror(code); }
struct curl_slist *procrun_curl_slist_append(struct curl_slist *list, const char *string) { return api.slist_append(list, string); }
void procrun_curl_slist_free_all(struct curl_slist *list) { api.slist_free_all(list); }

CURLM *procrun_curl_multi_init(void) { return procrun_curl_load() == 0 ? api.multi_init() : NULL; }
CURLMcode procrun_curl_multi_add_handle(CURLM *multi, CURL *handle) { return api.multi_add_handle(multi, handle); }
CURLMcode procrun_curl_multi_remove_handle(CURLM *multi, CURL *handle) { return api.multi_remove_handle(multi, handle); }
CURLMcode procrun_curl_multi_perform(CURLM *multi, int *running) { return api.multi_perform(multi, running); }
CURLMcode procrun_curl_multi_poll(CURLM *multi, struct curl_waitfd *extra, unsigned int count, int timeout, int *ready) {
    return api.multi_poll(multi, extra, count, timeout, ready);
}
CURLMcode procrun_curl_multi_wakeup(CURLM *multi) { return api.multi_wakeup(multi); }
CURLMsg *procrun_curl_multi_info_read(CURLM *multi, int *left) { return api.multi_info_read(multi, left); }
CURLMcode procrun_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) { return api.multi_setopt(multi, option, value); }

CURLcode procrun_curl_setopt_long(CURL *handle, CURLoption option, long value) { return api.easy_setopt(handle, option, value); }
CURLcode procrun_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) { return api.easy_setopt(handle, option, value); }
CURLcode procrun_curl_setopt_string(CURL *handle, CURLoption option, const char *value) { return api.easy_setopt(handle, option, value); }
CURLcode procrun_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) { return api.easy_setopt(handle, option, value); }
CURLcode procrun_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) { return api.easy_setopt(handle, option, value); }

CURLcode procrun_curl_setopt_write(CURL *handle, procrun_curl_data_callback callback, void *context) {
    CURLcode code = api.easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
    if (code != CURLE_OK) return code;
    return api.easy_setopt(handle, CURLOPT_WRITEDATA, context);
}
CURLcode procrun_curl_setopt_header(CURL *handle, procrun_curl_data_callback callback, void *context) {
    CURLcode code = api.easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
    if (code != CURLE_OK) return code;
    return api.easy_setopt(handle, CURLOPT_HEADERDATA, context);
}
CURLcode procrun_curl_setopt_read(CURL *handle, procrun_curl_data_callback callback, void *context) {
    CURLcode code = api.easy_setopt(handle, CURLOPT_READFUNCTION, callback);
    if (code != CURLE_OK) return code;
    return api.easy_setopt(handle, CURLOPT_READDATA, context);
}
CURLcode procrun_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) { return api.easy_getinfo(handle, info, value); }
CURLcode procrun_curl_getinfo_private(CURL *handle, void **value) { return api.easy_getinfo(handle, CURLINFO_PRIVATE, value); }
