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

# Exemplars for the semantic router: several phrasings per intent. The router embeds these
# once and classifies a request by its nearest exemplars; slots are extracted separately.
ROUTER_EXAMPLES: dict[str, list[str]] = {
    "write_poem": [
        "write a poem about the sea", "a haiku about first snow", "compose a sonnet on lost love",
        "give me a limerick about a cat", "verses about autumn rain", "a short poem for my mother",
        "rhyme something about the moon", "pen a few lines of verse about city nights",
        "a quatrain on the passing of time", "write me some poetry about hope", "an ode to coffee",
        "twelve lines of free verse about the river", "a poem in Chinese about mountains",
        "I'd like some lyrical lines about winter", "could you versify the feeling of leaving home",
    ],
    "generate_image": [
        "paint a picture of a red apple", "draw a yellow star", "an image of a blue car",
        "make a picture of a green tree", "illustrate a lighthouse at dusk", "a watercolour of a harbour",
        "show me what a dragon looks like", "generate an image of mountains at sunrise",
        "sketch a cat sleeping on a chair", "create artwork of a forest in the fog",
        "a drawing of a bicycle", "render a clip-art icon of a house", "picture a bowl of fruit",
        "visualise a stormy sky", "an illustration to go with the poem", "a matching picture",
        "paint it as a watercolour", "a picture to go with it", "an image for the poem",
    ],
    "style_transfer": [
        "restyle my photo like starry night", "make photo.jpg look like a Van Gogh painting",
        "apply the style of the scream to the last image", "turn the last picture into a Munch painting",
        "transfer the style of udnie onto cat.png", "repaint it in the style of the great wave",
        "give this image the look of an impressionist painting", "style transfer from style.jpg to content.png",
        "make the picture look like an oil painting by Turner", "render my image in the manner of shipwreck.jpg",
    ],
    "compose_music": [
        "compose a slow piano piece in D minor", "write a folk tune", "16 bars of music in G major",
        "a lively irish jig", "make some music for the poem", "a Bach-style chorale", "play me a waltz",
        "a melancholy melody on the violin", "give me a tune to go with it", "create a song in 3/4",
        "a happy reel at 120 bpm", "compose something for flute", "continue primer.mid for eight bars",
        "a short soundtrack for the picture", "some background music, calm and quiet",
    ],
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

# how a segment names the kind of artifact it wants revised
REVISE_KIND_WORDS = {
    "write_poem": ("poem", "verse", "haiku", "sonnet", "limerick", "lines", "words", "quatrain"),
    "generate_image": ("picture", "image", "painting", "drawing", "illustration", "watercolour", "photo"),
    "compose_music": ("music", "tune", "melody", "piece", "song", "chorale", "jig", "reel", "waltz"),
    "style_transfer": ("style", "restyled", "transfer"),
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
