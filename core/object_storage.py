"""The S3 storage of STORAGE_BACKEND=s3 (marketplace/storage_config.py): django-storages' S3Storage, whose presigned URLs
(the only URLs it gives out: the download view redirects browsers to them) may name another address of the same
server than the one the app talks to (`public_endpoint_url`, S3_PUBLIC_ENDPOINT_URL).

Under docker compose the app reaches the bundled MinIO as http://minio:9000, a name only the containers resolve; the
browser that follows a download's redirect reaches it as http://localhost:9000 (or a public name behind a TLS proxy).
A presigned URL's signature covers the host it names, so the URL is signed by a client of the public endpoint (same
keys, region, signature version and addressing style), not rewritten afterwards. Signing is local: no request is sent.
Imported only when the storage is S3 (it loads boto3)."""

import threading

from storages.backends.s3 import S3Storage as BaseS3Storage
from storages.utils import clean_name


class S3Storage(BaseS3Storage):
    def __init__(self, **settings):
        self.public_endpoint_url = settings.pop("public_endpoint_url", None) or None
        super().__init__(**settings)
        self._public_connections = threading.local()

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_public_connections", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._public_connections = threading.local()

    @property
    def public_connection(self):
        """A boto3 resource of the public endpoint: what presigned URLs are signed with."""
        connection = getattr(self._public_connections, "connection", None)
        if connection is None:
            connection = self._create_session().resource(
                "s3",
                region_name=self.region_name,
                use_ssl=self.use_ssl,
                endpoint_url=self.public_endpoint_url,
                config=self.client_config,
                verify=self.verify,
            )
            self._public_connections.connection = connection
        return connection

    def url(self, name, parameters=None, expire=None, http_method=None):
        public = self.public_endpoint_url
        if not public or public == self.endpoint_url or self.custom_domain or not self.querystring_auth:
            return super().url(name, parameters=parameters, expire=expire, http_method=http_method)
        params = parameters.copy() if parameters else {}
        params["Bucket"] = self.bucket_name
        params["Key"] = self._normalize_name(clean_name(name))
        return self.public_connection.meta.client.generate_presigned_url(
            "get_object",
            Params=params,
            ExpiresIn=self.querystring_expire if expire is None else expire,
            HttpMethod=http_method,
        )
