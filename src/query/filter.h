/*
 * filter.h — comparing document values and testing simple predicates:
 * the one total order across types that sorting uses, and the comparison
 * operators of a WHERE clause with SQL's NULL rules.
 *
 * Owns: the order and predicate semantics (documented in docs/QUERIES.md).
 * Not: parsing, planning, storage.  Depends only on the doc layer.
 */
#ifndef BLAZEDB_QUERY_FILTER_H
#define BLAZEDB_QUERY_FILTER_H

#include "../doc/value.h"

/*
 * Total order over values (NULL pointer = missing): missing and null first,
 * then bool (false < true), numbers (int and double compared by value;
 * NaN below every other number), dates, strings (bytewise, which is code
 * point order), bytes (bytewise), uuids, arrays (element by element, then
 * length), objects (field by field: name, then value; then field count),
 * vectors (element by element, then length).  Returns <0, 0, >0.
 */
int qf_compare(const DocValue *a, const DocValue *b);

/* The pieces of that order, shared with the SQL values' order (sqlvalue.c),
 * which must agree with it exactly: the rank of a type (numbers share one;
 * missing and null are 0), and numbers compared by value (an int against a
 * double exactly, with no rounding of large ints; NaN below every other
 * number).  <0, 0, >0. */
int qf_type_rank(int doc_type);
int qf_cmp_int_double(int64_t i, double d);
int qf_cmp_double(double a, double b);

typedef enum {
    QF_EQ = 1,
    QF_NE = 2,
    QF_LT = 3,
    QF_LE = 4,
    QF_GT = 5,
    QF_GE = 6,
    QF_IS_NULL = 7,      /* missing or null */
    QF_IS_NOT_NULL = 8
} QfOp;

/*
 * One comparison: `field` (NULL when missing) op `constant`.  As in SQL, a
 * comparison with a missing or null field, or with a null constant, is
 * unknown, which a filter treats as false; IS [NOT] NULL is never unknown.
 * Other values compare by qf_compare, so 1 = 1.0 and values of different
 * types order by type.  Returns 1 when true.
 */
int qf_test(const DocValue *field, QfOp op, const DocValue *constant);

#endif /* BLAZEDB_QUERY_FILTER_H */
