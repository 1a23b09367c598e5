"""The MCP server, as an AI assistant's client sees it: streamable HTTP, the tool list, a call
with a base64 image, the answer checked against the Python API."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json

import pytest

pytest.importorskip("mcp")
from mcp import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamablehttp_client  # noqa: E402

import webui  # noqa: E402
from conftest import encode, make_photo  # noqa: E402
from forensics import Detector  # noqa: E402
from test_app import serve  # noqa: E402


@pytest.fixture(scope="module")
def detector(tiny_model_dir):
    return Detector.from_pretrained(tiny_model_dir, device="cpu")


async def session_call(url: str, calls):
    """Open one MCP session on `url`, list the tools, run `calls(session, tools)`."""
    async with streamablehttp_client(url + "gradio_api/mcp/") as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            return tools, await calls(session, tools)


def test_mcp_is_on_by_default():
    assert webui.LAUNCH_OPTIONS["mcp_server"] is True


def test_an_assistant_lists_the_tool_and_analyses_a_base64_image(detector):
    data = encode(make_photo(500, 300, seed=6), "PNG")
    url = "data:image/png;base64," + base64.b64encode(data).decode()

    async def calls(session, tools):
        return await session.call_tool("api_analyze", {"path": url})

    with serve(detector) as page:
        tools, result = asyncio.run(session_call(page, calls))

    tool = tools["api_analyze"]
    assert "P(AI-generated)" in tool.description and "not proof" in tool.description
    props = tool.inputSchema["properties"]
    assert set(props) >= {"path", "method", "deep_check"} and tool.inputSchema["required"] == ["path"]
    assert "base64" in props["path"]["description"]
    assert not result.isError
    text = next(c.text for c in result.content if c.type == "text")
    assert hashlib.sha256(data).hexdigest() in text
    expected = detector.analyze(data)
    assert f"'verdict': '{expected.verdict}'" in text
    assert f"'fake_probability': {float(f'{expected.fake_probability:.8g}')}" in text
    assert text.count("gradio_api/file=") >= 2  # the two heatmaps, as URLs the assistant can fetch


def test_an_oversized_file_over_mcp_is_refused_with_the_upload_limit(detector, monkeypatch):
    monkeypatch.setattr("webui.api.MAX_UPLOAD_BYTES", 1000)
    data = encode(make_photo(300, 300), "PNG")
    assert len(data) > 1000
    url = "data:image/png;base64," + base64.b64encode(data).decode()

    async def calls(session, tools):
        return await session.call_tool("api_analyze", {"path": url})

    with serve(detector) as page:
        _, result = asyncio.run(session_call(page, calls))
    assert result.isError
    assert "limit" in json.dumps([c.text for c in result.content if c.type == "text"])
