/* util/avl.h — intrusive AVL tree: O(log n) insert/remove/search, no recursion, no
 * allocation. Embed an avl_node_t in your struct and get back to it with avl_entry().
 *
 * Ownership: the tree never owns nodes; the caller allocates and frees them, and must remove
 * a node before freeing it or changing its key. A node is in at most one tree at a time. The
 * comparator orders nodes totally (negative / 0 / positive like strcmp); equal nodes are not
 * allowed (avl_insert refuses them). Lookups take a "key node": a stack instance of the
 * entry type with only the key fields set. Not thread-safe: callers lock.
 *
 * Iterate in order:
 *	for (avl_node_t *n = avl_first(&t); n; n = avl_next(n)) ...
 * To remove while iterating, fetch avl_next(n) before avl_remove(&t, n).
 */
#ifndef TARN_UTIL_AVL_H
#define TARN_UTIL_AVL_H

#include <stddef.h>

typedef struct avl_node {
	struct avl_node *left, *right, *parent;
	int balance; /* height(right) - height(left), in -1..1 */
} avl_node_t;

typedef int (*avl_cmp_fn)(const avl_node_t *a, const avl_node_t *b);

typedef struct avl_tree {
	avl_node_t *root;
	avl_cmp_fn cmp;
	size_t count; /* number of nodes */
} avl_tree_t;

/* Initialise an empty tree ordered by cmp. There is nothing to destroy: empty it with
 * avl_remove() (or just drop it once every node is freed). */
void avl_init(avl_tree_t *t, avl_cmp_fn cmp);

/* Insert n (its avl_node_t fields need no initialisation). Returns NULL if inserted, else the
 * existing node equal to n, and n is left untouched and not inserted. */
avl_node_t *avl_insert(avl_tree_t *t, avl_node_t *n);

/* Remove n, which must be in t. n's link fields are cleared. */
void avl_remove(avl_tree_t *t, avl_node_t *n);

/* The node equal to key, or NULL. */
avl_node_t *avl_find(const avl_tree_t *t, const avl_node_t *key);

/* The first node >= key, or NULL. */
avl_node_t *avl_lower_bound(const avl_tree_t *t, const avl_node_t *key);

/* The last node <= key, or NULL. */
avl_node_t *avl_floor(const avl_tree_t *t, const avl_node_t *key);

/* The smallest / largest node, or NULL if the tree is empty. */
avl_node_t *avl_first(const avl_tree_t *t);
avl_node_t *avl_last(const avl_tree_t *t);

/* The in-order successor / predecessor of n (which is in a tree), or NULL. */
avl_node_t *avl_next(const avl_node_t *n);
avl_node_t *avl_prev(const avl_node_t *n);

/* The struct of type `type` whose member `member` is the node at ptr (ptr must not be NULL). */
#define avl_entry(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#endif
