"""The stages of the pooled global image (fusionlab.fusion.pooled_image), an option of concat and MASE."""

from __future__ import annotations

from fusionlab.schema.choice import Choice


class ImageStages(Choice):
    all = "all"  # every backbone stage pooled
    last = "last"  # the last stage only
