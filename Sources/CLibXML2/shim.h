#ifndef PROCRUN_CLIBXML2_SHIM_H
#define PROCRUN_CLIBXML2_SHIM_H

/* Debian's libxml2 is built with ICU; its headers then pull in ICU types that clash with the
   ICU copy inside Foundation ("'UErrorCode' has different definitions in different modules").
   Pretend ucnv.h was included and declare the two types libxml2's headers actually use. */
#ifndef UCNV_H
#define UCNV_H
#include <stdint.h>
typedef struct UConverter UConverter;
typedef uint16_t UChar;
#endif

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/* xmlFree is a global function pointer; Swift 6 refuses it as not concurrency-safe. */
static inline void procrun_xml_free(void *p) { xmlFree(p); }

/* Set when the document declares a DTD; the parser is stopped at once. */
typedef struct procrun_xml_guard {
    int sawDoctype;
    int line;
    int column;
} procrun_xml_guard;

static inline void procrun_xml_refuse_subset(void *ctx, const xmlChar *name,
                                             const xmlChar *ExternalID, const xmlChar *SystemID) {
    (void)name; (void)ExternalID; (void)SystemID;
    xmlParserCtxtPtr ctxt = (xmlParserCtxtPtr)ctx;
    procrun_xml_guard *guard = (procrun_xml_guard *)ctxt->_private;
    if (guard != NULL && !guard->sawDoctype) {
        guard->sawDoctype = 1;
        guard->line = ctxt->input ? ctxt->input->line : 0;
        guard->column = ctxt->input ? ctxt->input->col : 0;
    }
    xmlStopParser(ctxt);
}

/* A parser context whose SAX handler refuses any DOCTYPE (internal or external subset) before a
   single entity is declared, so neither external entities nor entity bombs are ever read. */
static inline xmlParserCtxtPtr procrun_xml_new_context(procrun_xml_guard *guard) {
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (ctxt == NULL) return NULL;
    ctxt->_private = guard;
    ctxt->sax->internalSubset = procrun_xml_refuse_subset;
    ctxt->sax->externalSubset = procrun_xml_refuse_subset;
    return ctxt;
}

static inline int procrun_xml_safe_options(void) {
    /* Never XML_PARSE_NOENT: despite its name it turns entity substitution on. */
    return XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES;
}

/* What the loader parses with: the safe options, and whitespace-only text between elements
   dropped (the loader never reads it) and short texts kept inside their nodes: fewer nodes to
   allocate, free and step over. */
static inline int procrun_xml_loader_options(void) {
    return procrun_xml_safe_options() | XML_PARSE_NOBLANKS | XML_PARSE_COMPACT;
}

#endif
