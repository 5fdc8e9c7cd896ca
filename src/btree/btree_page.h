/*
 * btree_page.h — private to src/btree: the few page-layout facts that
 * freelist.c needs from btree.c.  The layout itself is documented at the top
 * of btree.c.
 */
#ifndef BLAZEDB_BTREE_PAGE_H
#define BLAZEDB_BTREE_PAGE_H

#include <stddef.h>

#include "../pager/pager.h"

/* Largest value that is stored inline (in the leaf cell, no overflow chain)
 * next to a key of `klen` bytes, for this pager's page size. */
size_t btree_inline_max_value(const Pager *p, size_t klen);

#endif /* BLAZEDB_BTREE_PAGE_H */
