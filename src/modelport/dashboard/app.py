"""The Streamlit script `modelport dashboard` runs; its settings come from MODELPORT_*."""

from __future__ import annotations

import streamlit as st

from modelport.dashboard import monitoring, pages
from modelport.dashboard.sources import ModelSource, open_source
from modelport.errors import ModelportError
from modelport.settings import Settings

PAGES = {
    "Try the model": "try",
    "Score a file": "score",
    "Published predictions": "published",
    "Model card": "card",
    "Monitoring": "monitor",
}


@st.cache_resource(show_spinner="Loading the model ...")
def _source(settings: Settings) -> ModelSource:
    return open_source(settings)


def main() -> None:
    """One page per run: the model and the page come from the URL, so a link keeps them."""
    st.set_page_config(page_title="modelport", layout="wide")
    settings = Settings()
    try:
        source = _source(settings)
        names = source.names()
    except ModelportError as error:
        st.error(str(error))
        st.stop()
    if not names:
        st.error(f"no model is ready at {source.where}")
        st.stop()
    if "model" not in st.session_state:  # first run: the URL's choice, if any
        asked = st.query_params.get("model")
        st.session_state.model = asked if asked in names else names[0]
        titles = {key: title for title, key in PAGES.items()}
        st.session_state.page = titles.get(st.query_params.get("page", ""), "Try the model")
    name = st.sidebar.selectbox("Model", names, key="model")
    title = st.sidebar.radio("Page", list(PAGES), key="page")
    st.query_params["model"], st.query_params["page"] = name, PAGES[title]
    st.sidebar.caption(f"models from {source.where}")
    page = PAGES[title]
    if page == "try":
        pages.try_model(source, name)
    elif page == "score":
        pages.score_file(source, name)
    elif page == "published":
        pages.published(settings.predictions, settings.table)
    elif page == "monitor":
        monitoring.monitoring(source, name, settings)
    else:
        pages.model_card(source, name)


main()
