/* Unit tests for util/avl: randomized model check against a sorted array, with full
 * structural invariant checks (balance factors, heights, parent links, order, count). */
#include "util/avl.h"
#include "util/tap.h"

#include <stdlib.h>

struct item {
	int key;
	avl_node_t node;
};

static int cmp_item(const avl_node_t *a, const avl_node_t *b)
{
	int x = avl_entry(a, struct item, node)->key, y = avl_entry(b, struct item, node)->key;

	return (x > y) - (x < y);
}

static int key_of(const avl_node_t *n) { return n ? avl_entry(n, struct item, node)->key : -999; }

static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* ---- invariant checker ---- */

static int check_errors;

static void fail(const char *what, const avl_node_t *n)
{
	if (check_errors++ < 5)
		diag("invariant broken at key %d: %s", key_of(n), what);
}

/* Height of the subtree at n (recursion is fine here: depth <= 1.44 log2 n). */
static int check_node(const avl_node_t *n, const avl_node_t *parent, size_t *count)
{
	int hl, hr;

	if (!n)
		return 0;
	if (n->parent != parent)
		fail("parent link", n);
	if (n->left && cmp_item(n->left, n) >= 0)
		fail("left child not smaller", n);
	if (n->right && cmp_item(n->right, n) <= 0)
		fail("right child not larger", n);
	hl = check_node(n->left, n, count);
	hr = check_node(n->right, n, count);
	if (n->balance != hr - hl)
		fail("balance factor != height difference", n);
	if (hr - hl > 1 || hl - hr > 1)
		fail("height difference > 1", n);
	(*count)++;
	return 1 + (hl > hr ? hl : hr);
}

static int tree_height(const avl_tree_t *t)
{
	size_t count = 0;

	return check_node(t->root, NULL, &count);
}

/* Full check of t against the sorted model[0..n). */
static int check_tree(const avl_tree_t *t, const int *model, size_t n)
{
	size_t count = 0, i = 0;
	const avl_node_t *it;

	check_errors = 0;
	if (t->root && t->root->parent)
		fail("root has a parent", t->root);
	check_node(t->root, NULL, &count);
	if (count != t->count || count != n)
		fail("count mismatch", NULL);
	for (it = avl_first(t); it; it = avl_next(it), i++)
		if (i >= n || key_of(it) != model[i]) {
			fail("in-order walk differs from model", it);
			break;
		}
	if (i != n)
		fail("in-order walk length", NULL);
	i = n;
	for (it = avl_last(t); it; it = avl_prev(it))
		if (i == 0 || key_of(it) != model[--i]) {
			fail("reverse walk differs from model", it);
			break;
		}
	if (i != 0)
		fail("reverse walk length", NULL);
	return check_errors == 0;
}

/* ---- sorted-array model ---- */

/* Index of the first element >= k. */
static size_t model_lb(const int *m, size_t n, int k)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m[mid] < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int model_has(const int *m, size_t n, int k)
{
	size_t i = model_lb(m, n, k);

	return i < n && m[i] == k;
}

static void model_insert(int *m, size_t *n, int k)
{
	size_t i = model_lb(m, *n, k);

	memmove(m + i + 1, m + i, (*n - i) * sizeof(*m));
	m[i] = k;
	(*n)++;
}

static void model_remove(int *m, size_t *n, int k)
{
	size_t i = model_lb(m, *n, k);

	memmove(m + i, m + i + 1, (*n - i - 1) * sizeof(*m));
	(*n)--;
}

/* ---- tests ---- */

enum { K = 4096, OPS = 100000 };

static int mismatches;

static void expect(int got, int want, const char *op, int k)
{
	if (got != want && mismatches++ < 5)
		diag("%s(%d): tree %d, model %d", op, k, got, want);
}

/* One random operation on both tree and model. */
static void random_op(avl_tree_t *t, struct item *items, int *model, size_t *n)
{
	int k = (int)(rnd() % K), q = (int)(rnd() % (K + 2)) - 1;
	struct item key = { .key = q };
	size_t i;

	switch (rnd() % 8) {
	case 0:
	case 1:
	case 2: { /* insert (biased so the tree fills to ~half) */
		avl_node_t *dup = avl_insert(t, &items[k].node);

		if (model_has(model, *n, k)) {
			expect(dup == &items[k].node, 1, "insert-dup", k);
		} else {
			expect(dup == NULL, 1, "insert", k);
			model_insert(model, n, k);
		}
		break;
	}
	case 3:
	case 4: /* remove */
		if (model_has(model, *n, k)) {
			avl_remove(t, &items[k].node);
			model_remove(model, n, k);
		}
		break;
	case 5: /* find */
		expect(key_of(avl_find(t, &key.node)), model_has(model, *n, q) ? q : -999, "find", q);
		break;
	case 6: /* lower_bound */
		i = model_lb(model, *n, q);
		expect(key_of(avl_lower_bound(t, &key.node)), i < *n ? model[i] : -999, "lower_bound", q);
		break;
	default: /* floor */
		i = model_lb(model, *n, q + 1);
		expect(key_of(avl_floor(t, &key.node)), i > 0 ? model[i - 1] : -999, "floor", q);
		break;
	}
}

static void test_model(void)
{
	struct item *items = calloc(K, sizeof(*items));
	int *model = calloc(K, sizeof(*model));
	size_t n = 0, max_n = 0;
	int checks_ok = 1;
	avl_tree_t t;

	if (!ok(items && model, "allocated model"))
		goto done;
	for (int i = 0; i < K; i++)
		items[i].key = i;
	avl_init(&t, cmp_item);
	for (int op = 0; op < OPS; op++) {
		random_op(&t, items, model, &n);
		if (n > max_n)
			max_n = n;
		if (op % 997 == 0 && !check_tree(&t, model, n)) {
			checks_ok = 0;
			diag("after op %d", op);
			break;
		}
	}
	diag("%d ops, tree size peaked at %zu", OPS, max_n);
	is_int(mismatches, 0, "every find/lower_bound/floor/insert agrees with the model");
	ok(checks_ok, "invariants hold throughout");
	ok(check_tree(&t, model, n), "invariants hold at the end");
	/* drain in random order */
	while (n > 0) {
		int k = model[rnd() % n];

		avl_remove(&t, &items[k].node);
		model_remove(model, &n, k);
		if (n % 101 == 0 && !check_tree(&t, model, n))
			break;
	}
	ok(check_tree(&t, model, n) && t.root == NULL && t.count == 0, "drained to empty");
done:
	free(items);
	free(model);
}

static void test_edges(void)
{
	struct item a = { .key = 1 }, b = { .key = 1 }, k0 = { .key = 0 };
	avl_tree_t t;

	avl_init(&t, cmp_item);
	ok(avl_first(&t) == NULL && avl_last(&t) == NULL, "empty tree has no first/last");
	ok(avl_find(&t, &k0.node) == NULL, "find in empty tree");
	ok(avl_lower_bound(&t, &k0.node) == NULL && avl_floor(&t, &k0.node) == NULL, "bounds in empty tree");
	ok(avl_insert(&t, &a.node) == NULL, "insert into empty tree");
	b.node.balance = 77;
	b.node.left = b.node.right = b.node.parent = (avl_node_t *)&b;
	ok(avl_insert(&t, &b.node) == &a.node, "duplicate insert returns existing node");
	ok(b.node.balance == 77 && b.node.parent == (avl_node_t *)&b, "refused node left untouched");
	is_u64(t.count, 1, "count after refused insert");
	ok(avl_next(&a.node) == NULL && avl_prev(&a.node) == NULL, "single node has no neighbours");
	ok(avl_lower_bound(&t, &k0.node) == &a.node, "lower_bound below the only key");
	ok(avl_floor(&t, &k0.node) == NULL, "floor below the only key");
	avl_remove(&t, &a.node);
	ok(t.root == NULL && t.count == 0, "removed the only node");
	ok(a.node.left == NULL && a.node.right == NULL && a.node.parent == NULL, "removed node is cleared");
}

/* Sorted input is the classic worst case for unbalanced trees. */
static void test_sequential(void)
{
	enum { N = 1 << 18 };
	struct item *items = malloc(N * sizeof(*items));
	int *model = malloc(N * sizeof(*model));
	avl_tree_t t;
	int h = 0;

	if (!ok(items && model, "allocated sequential items"))
		goto done;
	avl_init(&t, cmp_item);
	for (int i = 0; i < N; i++) {
		items[i].key = i;
		model[i] = i;
		avl_insert(&t, &items[i].node);
	}
	ok(check_tree(&t, model, N), "ascending inserts: invariants hold");
	h = tree_height(&t);
	ok(h >= 19 && h <= 26, "height %d of %d nodes within AVL bound 1.44 log2 n", h, N);
	/* remove every other node while iterating */
	for (avl_node_t *n = avl_first(&t), *next; n; n = next) {
		next = avl_next(n);
		if (key_of(n) % 2 == 0)
			avl_remove(&t, n);
	}
	for (int i = 0; i < N / 2; i++)
		model[i] = 2 * i + 1;
	ok(check_tree(&t, model, N / 2), "remove-while-iterating keeps invariants");
	for (int i = N - 1; i >= 0; i -= 2)
		avl_remove(&t, &items[i].node);
	ok(t.root == NULL && t.count == 0, "descending removal empties the tree");
done:
	free(items);
	free(model);
}

int main(void)
{
	test_edges();
	test_model();
	test_sequential();
	return done_testing();
}
