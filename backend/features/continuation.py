"""Mid-stream failover: ask the next provider to go on from the text so far, without repeats.

The continuation prompt is the original conversation, the partial answer as the assistant's
turn, and a request to continue (for Anthropic an assistant turn that ends the conversation
also acts as a prefill). Models often restate the last words anyway, so
:class:`OverlapTrimmer` holds back the head of the new text until it can tell, and drops the
longest run of whole words that repeats the end of the text so far.
"""

from __future__ import annotations

import msgspec

from margin.providers.base import ChatMessage, ProviderRequest

CONTINUE_INSTRUCTION = "Continue exactly where your previous answer stopped. Do not repeat any of it."
_TAIL_CHARS = 200
"""The longest repeated span looked for; longer repeats are not what a continuation does."""


def continuation_request(request: ProviderRequest, text_so_far: str) -> ProviderRequest:
    messages = (
        *request.messages,
        ChatMessage("assistant", text_so_far),
        ChatMessage("user", CONTINUE_INSTRUCTION),
    )
    return msgspec.structs.replace(request, messages=messages)


class OverlapTrimmer:
    """Feeds the continuation's deltas through, minus a head that repeats the previous tail."""

    def __init__(self, previous: str) -> None:
        tail = previous.rstrip()[-_TAIL_CHARS:]
        self._spaced = previous != previous.rstrip()
        starts = [i for i in range(len(tail)) if not tail[i].isspace() and (i == 0 or tail[i - 1].isspace())]
        if starts and starts[0] == 0 and len(tail) == _TAIL_CHARS:
            starts = starts[1:]  # the window may have cut a word in two
        self._candidates = sorted({tail[i:] for i in starts}, key=len, reverse=True)
        self._held = ""
        self._done = not self._candidates

    def feed(self, text: str) -> str:
        if self._done:
            return text
        self._held += text
        head = self._held.lstrip()
        if any(c.startswith(head) for c in self._candidates):
            return ""  # could still be a repeat (or a longer word than it): wait for more text
        return self._release(head)

    def flush(self) -> str:
        """At the end of the continuation: whatever is still held back."""
        return "" if self._done else self._release(self._held.lstrip())

    def _release(self, head: str) -> str:
        self._done = True
        held, self._held = self._held, ""
        for candidate in self._candidates:
            rest = head[len(candidate) :]
            if head.startswith(candidate) and (not rest or not rest[0].isalnum()):
                return rest.lstrip() if self._spaced else rest
        return held
