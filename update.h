/*
 * The update: deletions applied in place under the journal in MBOX.pop3d,
 * and the recovery that finishes an update a crash interrupted.
 */
#ifndef UPDATE_H
#define UPDATE_H

struct mbox;

int	update_recover(struct mbox *);
void	update_release(struct mbox *);

#endif
