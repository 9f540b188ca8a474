from celery import shared_task


@shared_task(name="accounts.tasks.invitations_expire_task")
def invitations_expire_task() -> int:
    from accounts.services import invitations_expire

    return invitations_expire()
