"""All prose the agent shows to models or people, in one place."""

SYSTEM_PROMPT = """You are the planner of Ars Nova, a creative studio. Decide which tools to call for the
user's request. Call write_poem for poems, generate_image for pictures, style_transfer to repaint an
image in the style of another, and compose_music for music. Several requests in one message mean
several tool calls. Use "@last" for the session's latest image. Fill only the arguments the user
states or clearly implies. If the user asks for nothing creative, answer briefly in words."""

REVISE_NOTE = "Revision of the previous {kind}: push {direction}."

NOT_AVAILABLE = "{tool} is not available yet in this build of Ars Nova; nothing was generated."

RETRY_TOOL_CALL = "Your tool call was invalid: {error}. Call the tool again with corrected arguments."

CHITCHAT_REPLY = (
    "I can write poems, paint pictures, restyle an image after a painting, and compose music. "
    "Try: \"a haiku about first snow\", \"a picture of a red apple\", or \"16 bars of slow piano in D minor\"."
)

# Exemplars for the semantic router's labels that are not tools (each tool's own are in its
# registry entry): several phrasings each. The router embeds these once and classifies a
# request by its nearest exemplars; slots are extracted separately.
ROUTER_EXAMPLES: dict[str, list[str]] = {
    "revise": [
        "make the poem less conventional", "make it more original", "make the music more surprising",
        "try again but weirder", "revise the picture to be more novel", "make it less predictable",
        "push the melody further from the usual", "make the poem more like Dickinson",
        "do another version of the tune", "improve the last one", "be more experimental with it",
    ],
    "none": [
        "hello", "thanks!", "what can you do?", "who are you", "how does this work",
        "good morning", "tell me about yourself", "ok", "that's great", "help",
        "what is the weather today", "explain the difference between a sonnet and a haiku",
    ],
}

CHAT_HELP = """\
# Ars Nova — keys

| key | does |
|---|---|
| Enter | send the request (queued while another runs) |
| Escape | cancel the running tool |
| Ctrl+P | command palette: new/switch/rename/delete session, export bundle, novelty target, logs |
| Ctrl+B | show or hide the sessions sidebar |
| F1 | this help |
| Ctrl+Q | quit |
| /brief FILE | run a brief's messages in this session |
| /save-brief FILE | save this session's messages as a brief that replays it |

Ask for music in words: *16 bars of slow piano music in D minor*, *a lively jig for fiddle*,
*a Bach chorale in A minor*, *continue primer.mid for 8 bars*, *make the music less conventional*.
Restyle a picture after a painting: *restyle photo.jpg like starry night*, *repaint the last image
in the style of the scream, keep the colours*. Poems and new pictures are coming.
"""
