"""RemoteVis from Python: send numpy volumes to a remote visualization instance and look at
them in the browser (or inline in Jupyter).

    import numpy as np
    from remotevis import RemoteVis
    rv = RemoteVis()                                 # middleware: REMOTEVIS_MIDDLEWARE or 127.0.0.1:8470
    inst = rv.start(vol)                             # an instance sized for `vol`; inst.url
    rv.render_volume(vol, spacing=(1, 1, 1))         # no copy of a contiguous array
    part = rv.retrieve_volume(np.s_[0:64, 0:64, 0:64], step=2)
    img = rv.screenshot(800, 600)                    # (600, 800, 4) uint8
    rv.stop()

See docs/python.md.
"""

from .arrays import VOLUME_DTYPES, RemoteVisWarning
from .client import DEFAULT_MIDDLEWARE, RemoteVis
from .display import Screenshot, png_bytes
from .errors import RemoteVisError
from .instance import Instance, InstanceClient
from ._sscrdma import library_path

__version__ = "0.1.0"
__all__ = [
    "RemoteVis", "RemoteVisError", "RemoteVisWarning", "Instance", "InstanceClient", "Screenshot",
    "png_bytes", "library_path", "VOLUME_DTYPES", "DEFAULT_MIDDLEWARE", "__version__",
]
