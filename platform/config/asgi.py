import os
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
for _root in ("platform", "tenants"):
    if str(_ROOT / _root) not in sys.path:
        sys.path.insert(0, str(_ROOT / _root))

from django.core.asgi import get_asgi_application  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()
