/* core/run/rounds.h — pooling the rounds of a multi-round cell into one
 * cell folder (layout and pooling rules in rounds.c). */
#ifndef PB_ROUNDS_H
#define PB_ROUNDS_H

#include <stddef.h>

/* Pool rounds_dir/r1 … r<n_rounds> into the folder tmp (created).  The
 * caller renames tmp into place.  0 or -errno (err says what). */
int pb_rounds_pool(const char *rounds_dir, int n_rounds, const char *tmp, char *err, size_t len);

#endif
