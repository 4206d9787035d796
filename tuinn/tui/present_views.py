"""Provides layer_views: which of the attention, normalisation and embedding views the
network screen's top panel shows at the cursor, with their data (computed on the engine
thread; the conv and recurrent views are chosen in the screen itself)."""

from __future__ import annotations

from tuinn.engine.session import Session
from tuinn.tui.present_attention import attention_layer_of, attention_view
from tuinn.tui.present_embed import embed_layer_of, embed_view
from tuinn.tui.present_norm import norm_layer_of, norm_view


def layer_views(session: Session, picks: dict[str, tuple]) -> dict:
    """{"attn": AttentionData | None, "norm": NormData | None, "embed": EmbedData | None}:
    the view of the layer the current step runs; `picks` holds each layer's selection
    (attention: (head, query, key); norm and embedding: (index,))."""
    out = {"attn": None, "norm": None, "embed": None}
    name = attention_layer_of(session)
    if name is not None:
        head, query, key = picks.get(name, (0, None, None))
        out["attn"] = attention_view(session, name, head, query, key)
        return out
    name = norm_layer_of(session)
    if name is not None:
        out["norm"] = norm_view(session, name, *picks.get(name, (0,)))
        return out
    name = embed_layer_of(session)
    if name is not None:
        out["embed"] = embed_view(session, name, *picks.get(name, (0,)))
    return out
