/* util/avl.c — intrusive AVL tree (see avl.h).
 *
 * Balance factors are height(right) - height(left). Rotations update them with the general
 * formulas, valid for any child balance, so the same two rotations serve insertion and
 * removal; retracing walks parent pointers upwards.
 */
#include "avl.h"

void avl_init(avl_tree_t *t, avl_cmp_fn cmp)
{
	t->root = NULL;
	t->cmp = cmp;
	t->count = 0;
}

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }

/* Make `nw` take old's place under parent p (or as the root). */
static void replace_child(avl_tree_t *t, avl_node_t *p, avl_node_t *old, avl_node_t *nw)
{
	if (p == NULL)
		t->root = nw;
	else if (p->left == old)
		p->left = nw;
	else
		p->right = nw;
	if (nw)
		nw->parent = p;
}

/* Rotate x's right child y up; returns y. */
static avl_node_t *rotate_left(avl_tree_t *t, avl_node_t *x)
{
	avl_node_t *y = x->right;

	x->right = y->left;
	if (y->left)
		y->left->parent = x;
	replace_child(t, x->parent, x, y);
	y->left = x;
	x->parent = y;
	x->balance = x->balance - 1 - imax(y->balance, 0);
	y->balance = y->balance - 1 + imin(x->balance, 0);
	return y;
}

/* Rotate x's left child y up; returns y. */
static avl_node_t *rotate_right(avl_tree_t *t, avl_node_t *x)
{
	avl_node_t *y = x->left;

	x->left = y->right;
	if (y->right)
		y->right->parent = x;
	replace_child(t, x->parent, x, y);
	y->right = x;
	x->parent = y;
	x->balance = x->balance + 1 - imin(y->balance, 0);
	y->balance = y->balance + 1 + imax(x->balance, 0);
	return y;
}

/* Restore balance at x (balance +-2) with a single or double rotation; returns the new
 * root of x's subtree. */
static avl_node_t *rebalance(avl_tree_t *t, avl_node_t *x)
{
	if (x->balance < 0) {
		if (x->left->balance > 0)
			rotate_left(t, x->left);
		return rotate_right(t, x);
	}
	if (x->right->balance < 0)
		rotate_right(t, x->right);
	return rotate_left(t, x);
}

/* n was just linked as a leaf: walk up while subtree heights grow. */
static void insert_fixup(avl_tree_t *t, avl_node_t *n)
{
	avl_node_t *p;

	for (; (p = n->parent) != NULL; n = p) {
		p->balance += (n == p->left) ? -1 : 1;
		if (p->balance == 0)
			return; /* height of p unchanged */
		if (p->balance == 2 || p->balance == -2) {
			rebalance(t, p); /* restores p's pre-insert height */
			return;
		}
	}
}

avl_node_t *avl_insert(avl_tree_t *t, avl_node_t *n)
{
	avl_node_t *p = NULL, **link = &t->root;

	while (*link) {
		int c;

		p = *link;
		c = t->cmp(n, p);
		if (c == 0)
			return p;
		link = c < 0 ? &p->left : &p->right;
	}
	n->left = n->right = NULL;
	n->parent = p;
	n->balance = 0;
	*link = n;
	t->count++;
	insert_fixup(t, n);
	return NULL;
}

/* The subtree of p on side `left` lost one level of height: walk up while heights shrink. */
static void remove_fixup(avl_tree_t *t, avl_node_t *p, int left)
{
	while (p) {
		avl_node_t *up;

		p->balance += left ? 1 : -1;
		if (p->balance == 1 || p->balance == -1)
			return; /* was 0: height unchanged */
		if (p->balance != 0) {
			avl_node_t *sib = p->balance > 0 ? p->right : p->left;
			int sib_bal = sib->balance;

			p = rebalance(t, p);
			if (sib_bal == 0)
				return; /* single rotation kept the height */
		}
		up = p->parent;
		if (up)
			left = (p == up->left);
		p = up;
	}
}

void avl_remove(avl_tree_t *t, avl_node_t *n)
{
	avl_node_t *p = n->parent, *fix;
	int left;

	if (n->left && n->right) {
		/* Put the successor s in n's place; the hole moves to s's old position. */
		avl_node_t *s = n->right;

		while (s->left)
			s = s->left;
		if (s == n->right) {
			fix = s;
			left = 0;
		} else {
			fix = s->parent;
			left = 1;
			fix->left = s->right;
			if (s->right)
				s->right->parent = fix;
			s->right = n->right;
			n->right->parent = s;
		}
		s->left = n->left;
		n->left->parent = s;
		s->balance = n->balance;
		replace_child(t, p, n, s);
	} else {
		avl_node_t *c = n->left ? n->left : n->right;

		fix = p;
		left = p && p->left == n;
		replace_child(t, p, n, c);
	}
	n->left = n->right = n->parent = NULL;
	n->balance = 0;
	t->count--;
	remove_fixup(t, fix, left);
}

avl_node_t *avl_find(const avl_tree_t *t, const avl_node_t *key)
{
	avl_node_t *n = t->root;

	while (n) {
		int c = t->cmp(key, n);

		if (c == 0)
			return n;
		n = c < 0 ? n->left : n->right;
	}
	return NULL;
}

avl_node_t *avl_lower_bound(const avl_tree_t *t, const avl_node_t *key)
{
	avl_node_t *n = t->root, *best = NULL;

	while (n) {
		int c = t->cmp(key, n);

		if (c == 0)
			return n;
		if (c < 0) {
			best = n;
			n = n->left;
		} else {
			n = n->right;
		}
	}
	return best;
}

avl_node_t *avl_floor(const avl_tree_t *t, const avl_node_t *key)
{
	avl_node_t *n = t->root, *best = NULL;

	while (n) {
		int c = t->cmp(key, n);

		if (c == 0)
			return n;
		if (c > 0) {
			best = n;
			n = n->right;
		} else {
			n = n->left;
		}
	}
	return best;
}

avl_node_t *avl_first(const avl_tree_t *t)
{
	avl_node_t *n = t->root;

	if (n)
		while (n->left)
			n = n->left;
	return n;
}

avl_node_t *avl_last(const avl_tree_t *t)
{
	avl_node_t *n = t->root;

	if (n)
		while (n->right)
			n = n->right;
	return n;
}

avl_node_t *avl_next(const avl_node_t *n)
{
	const avl_node_t *p;

	if (n->right) {
		n = n->right;
		while (n->left)
			n = n->left;
		return (avl_node_t *)n;
	}
	while ((p = n->parent) != NULL && n == p->right)
		n = p;
	return (avl_node_t *)p;
}

avl_node_t *avl_prev(const avl_node_t *n)
{
	const avl_node_t *p;

	if (n->left) {
		n = n->left;
		while (n->right)
			n = n->right;
		return (avl_node_t *)n;
	}
	while ((p = n->parent) != NULL && n == p->left)
		n = p;
	return (avl_node_t *)p;
}
