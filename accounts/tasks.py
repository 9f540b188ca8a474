from celery import shared_task

from accounts.services import invitations_expire


@shared_task(name="accounts.tasks.invitations_expire_task")
def invitations_expire_task() -> int:
    return invitations_expire()
