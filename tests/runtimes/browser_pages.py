"""What the browser tests share: a served folder on 127.0.0.1 and a page that may only talk to it."""

from __future__ import annotations

from urllib.parse import urlparse

import numpy as np
from playwright.sync_api import Error as PlaywrightError

from static_edge.runtimes.web_server import serving as served

__all__ = ["PAGE_READY", "LocalOnlyPage", "open_page", "served"]

# A function, not an expression: playwright evaluates expression predicates with eval, which the page's CSP refuses
PAGE_READY = "() => window.staticEdge && (window.staticEdge.ready || window.staticEdge.error)"


class LocalOnlyPage:
    """A page whose requests may only go to 127.0.0.1; any other address is aborted and recorded.

    `requests` lists every URL path the page asked the network for (a Cache Storage hit makes none);
    `responses` maps each served path to its body size.
    """

    def __init__(self, browser, context=None):
        self.own_context = context is None
        self.context = context or browser.new_context()
        self.outside: list[str] = []
        self.requests: list[str] = []
        self.responses: dict[str, int] = {}
        self.errors: list[str] = []
        self.page = self.context.new_page()
        (self.context if self.own_context else self.page).route("**/*", self._route)
        self.page.on("response", self._record)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _route(self, route) -> None:
        url = route.request.url
        if urlparse(url).scheme in ("data", "blob") or urlparse(url).hostname == "127.0.0.1":
            self.requests.append(urlparse(url).path)
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def _record(self, response) -> None:
        if response.ok and urlparse(response.url).hostname == "127.0.0.1":
            try:
                self.responses[urlparse(response.url).path] = len(response.body())
            except PlaywrightError:  # the page closed before the body was read: nothing left to count
                pass

    def open(self, url: str, expect_error: bool = False) -> str | None:
        """Open a search page and wait until it is ready (or failed); returns the page's error message."""
        self.page.goto(url)
        self.page.wait_for_function(PAGE_READY, timeout=60_000)
        error = self.page.evaluate("window.staticEdge.error ?? null")
        if not expect_error:
            assert error is None, error
        return error

    def encode(self, texts: list[str], model: str = "window.staticEdge.model") -> tuple[list[list[int]], np.ndarray]:
        """Token ids and vectors of `texts` from a loaded embedder (a JS expression)."""
        result = self.page.evaluate(
            f"async (texts) => {{ const m = {model};"
            " return {ids: await m.tokenize(texts), vectors: (await m.encode(texts)).map((v) => Array.from(v))}; }",
            texts,
        )
        return result["ids"], np.array(result["vectors"], dtype=np.float32).reshape(len(texts), -1)

    def close(self) -> None:
        """Close the page (or its own context) and fail if any request left 127.0.0.1."""
        if self.own_context:
            self.context.close()
        else:
            self.page.close()
        assert self.outside == [], f"requests left 127.0.0.1: {self.outside}"


def open_page(browser, base: str, name: str, query: str = "") -> LocalOnlyPage:
    """A new local-only page on the search page of the bundle folder `name` under `base`, loaded without error."""
    page = LocalOnlyPage(browser)
    page.open(f"{base}/{name}/web/index.html{query}")
    return page


def assert_node_matches_python(result, python, texts: list[str]) -> None:
    """A node script's JSON output ({ids, vectors}) gives Python's token ids and vectors within 1e-5."""
    import json

    assert result.returncode == 0, result.stderr[-2000:]
    output = json.loads(result.stdout)
    assert output["ids"] == python.tokenizer.encode(texts)
    assert np.abs(np.array(output["vectors"], dtype=np.float32) - python.encode(texts)).max() <= 1e-5
