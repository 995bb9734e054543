"""A card for the sample novella's detective, on a private copy of the sample store."""

import pytest

from roleplay.card import new_card
from tests.conftest import sample_store


@pytest.fixture(scope="module")
def rp_settings(tmp_path_factory, sample_master):
    from rag.settings import load_settings

    # one model call a reply: the book-answer step (roleplay_facts) and the chatroom's scene plan (room_beats) have
    # their own tests, which switch them on
    return load_settings(env={}, store_dir=sample_store(sample_master, tmp_path_factory.mktemp("rp") / "chroma"),
                         roleplay_facts=False, room_beats=0)


def detective() -> dict:
    return new_card(
        "沈墨白", description="游方的郎中，{{char}}心细如发，专破奇案。", personality="沉稳、心细",
        scenario="青石镇的雨夜。", mes_example="<START>\n{{user}}: 你是谁？\n{{char}}: 在下沈墨白，一个游方郎中。",
        creator_notes="SECRET-NOTE never sent", post_history_instructions="回答要短。",
        character_book={"entries": [{"keys": ["寒汀"], "content": "寒汀是沈墨白的剑。", "enabled": True,
                                     "insertion_order": 0, "extensions": {}}]},
        shuwen={"novel": "青石镇奇案", "aliases": ["沈先生", "墨白"], "self_ref": "在下", "identity": "游方郎中"})
