"""The base classes every API view uses (a test keeps it so).

DRF checks permissions before throttles, so a request refused for a missing or wrong key would never count
against its address: a key could be guessed at full speed. Here the throttles run right after authentication,
and a failed authentication is counted against the client's address before its 401 goes out."""

from rest_framework import exceptions, generics
from rest_framework.views import APIView


class ThrottleFirst:
    def initial(self, request, *args, **kwargs):
        self.format_kwarg = self.get_format_suffix(**kwargs)
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(request)
        request.version, request.versioning_scheme = self.determine_version(request, *args, **kwargs)
        try:
            self.perform_authentication(request)
        except exceptions.AuthenticationFailed:
            self.check_throttles(request)  # request.auth is None now: the address's budget
            raise
        self.check_throttles(request)
        self.check_permissions(request)


class ApiView(ThrottleFirst, APIView):
    pass


class ApiGenericView(ThrottleFirst, generics.GenericAPIView):
    pass
