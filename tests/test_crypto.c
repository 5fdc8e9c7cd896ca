/*
 * test_crypto.c — properties of src/crypto that the rest relies on and that
 * the public API cannot show: nonces never repeat, not even across fork().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/crypto/crypto.h"

static int cmp12(const void *a, const void *b) { return memcmp(a, b, CRYPTO_NONCE_LEN); }

/* Many nonces from one thread: all distinct (the pool refills). */
static void test_nonces_distinct(void **state)
{
    (void)state;
    enum { N = 20000 };
    uint8_t *v = malloc((size_t)N * CRYPTO_NONCE_LEN);
    assert_non_null(v);
    for (int i = 0; i < N; i++)
        assert_int_equal(crypto_nonce(v + (size_t)i * CRYPTO_NONCE_LEN), CRYPTO_OK);
    qsort(v, N, CRYPTO_NONCE_LEN, cmp12);
    for (int i = 1; i < N; i++)
        assert_true(memcmp(v + (size_t)(i - 1) * CRYPTO_NONCE_LEN,
                           v + (size_t)i * CRYPTO_NONCE_LEN, CRYPTO_NONCE_LEN) != 0);
    free(v);
}

/* After fork, parent and child draw different nonces: the child must not
 * use the rest of its parent's pool. */
static void test_nonces_after_fork(void **state)
{
    (void)state;
    uint8_t first[CRYPTO_NONCE_LEN];
    assert_int_equal(crypto_nonce(first), CRYPTO_OK); /* the pool is filled */
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint8_t mine[8 * CRYPTO_NONCE_LEN];
        for (int i = 0; i < 8; i++)
            if (crypto_nonce(mine + i * CRYPTO_NONCE_LEN) != CRYPTO_OK)
                _exit(2);
        _exit(write(p[1], mine, sizeof mine) == (ssize_t)sizeof mine ? 0 : 3);
    }
    uint8_t parent[8 * CRYPTO_NONCE_LEN], child[8 * CRYPTO_NONCE_LEN];
    for (int i = 0; i < 8; i++)
        assert_int_equal(crypto_nonce(parent + i * CRYPTO_NONCE_LEN), CRYPTO_OK);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(read(p[0], child, sizeof child), (ssize_t)sizeof child);
    close(p[0]);
    close(p[1]);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            assert_true(memcmp(parent + i * CRYPTO_NONCE_LEN, child + j * CRYPTO_NONCE_LEN,
                               CRYPTO_NONCE_LEN) != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nonces_distinct),
        cmocka_unit_test(test_nonces_after_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
