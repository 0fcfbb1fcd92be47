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
        "play that again but quicker", "the second one again, in a minor key", "same thing but shorter",
        "redo the haiku as a tanka", "turn the picture into a night scene", "once more, a little calmer",
    ],
    "none": [
        "hello", "thanks!", "what can you do?", "who are you", "how does this work",
        "good morning", "tell me about yourself", "ok", "that's great", "help",
        "what is the weather today", "explain the difference between a sonnet and a haiku",
        "what's the population of Canada", "remind me to call the dentist", "send an email to my boss",
        "debug this javascript function", "how far is the moon", "order a pizza", "see you later",
        "write a cover letter for a job", "calculate 15 percent of 80", "draft a memo about the budget",
    ],
}

# Answers in words for questions about the forms, keys and tools (the router picks the entries a
# question names; "forms" and the overview answer the general ones). Kept short: one line each.
HELP_ANSWERS: dict[str, str] = {
    "free": "Free verse has no fixed rhyme or meter; lines sets its length (8 by default).",
    "haiku": "A haiku is three lines of 5-7-5 syllables.",
    "tanka": "A tanka is five lines of 5-7-5-7-7 syllables.",
    "cinquain": "A cinquain is five lines of 2-4-6-8-2 syllables.",
    "couplet": "A couplet is two rhyming lines (ask for 4, 6… lines for more pairs).",
    "quatrain": "A quatrain is four lines rhymed ABAB or AABB (ask for 8, 12… lines for more stanzas).",
    "limerick": "A limerick is five funny lines rhymed AABBA, long-long-short-short-long.",
    "sonnet": "A sonnet is 14 lines of iambic pentameter rhymed ABAB CDCD EFEF GG.",
    "villanelle": "A villanelle is 19 lines on two rhymes: five tercets and a quatrain, with lines 1 and 3 "
                  "returning as refrains.",
    "forms": "The poet writes free verse, haiku, tanka, cinquain, couplets, quatrains, limericks, sonnets and "
             "villanelles; other forms (a sestina, a ghazal, an ode…) become the closest of these, and the plan says so.",
    "keys": "Music can be in any major or minor key: say \"in D minor\", \"F# major\", \"B-flat\" or \"Ebm\" "
            "(G major, or D minor for a sad mood, when none is named).",
    "meters": "Meters: 2/4, 3/4, 4/4, 2/2, 3/2, 4/2, 6/8, 9/8, 12/8, 3/8 and 6/4; 6/8 is two beats of three "
              "eighth notes (a jig), 3/4 three quarter-note beats (a waltz). Dances name their meter.",
    "tempo": "Tempo is in beats per minute (\"at 96 bpm\") or in words: slow, andante, allegro, lively, presto.",
    "instruments": "Instruments: piano, violin, viola, cello, flute, oboe, clarinet, trumpet, horn, organ, harp, "
                   "guitar, fiddle, bagpipe, choir, strings and more General MIDI voices.",
    "models": "Music comes from a Transformer or an LSTM trained on music21's corpus (say \"with the transformer\" "
              "or \"with the rnn\"; else the better-scoring one); poems from a small GPT-2, pictures from a 64x64 "
              "diffusion model.",
    "restyle": "To restyle a picture, name it and a painting: \"restyle photo.jpg like starry night\", or "
               "\"the last image in the style of the scream, keep the colours\".",
    "pictures": "Pictures: \"a picture of a red apple\", with a size (\"256x256\") and steps if you like.",
    "music": "Music: \"16 bars of slow piano music in D minor\", \"a jig for fiddle\", \"continue primer.mid\".",
}

FORM_SUBSTITUTE = "The poet has no {asked}; it writes {used} instead, the closest form it knows ({why})."

CHAT_HELP = """\
# Ars Nova — keys

| key | does |
|---|---|
| Enter | send the request (queued while another runs) |
| Escape | cancel the running tool |
| Ctrl+P | command palette: new/switch/rename/delete session, export bundle, novelty target, logs |
| Ctrl+B | show or hide the sessions sidebar |
| Up / Down | on an empty prompt: this session's earlier requests |
| PageUp / PageDown | scroll the conversation (Ctrl+Home / Ctrl+End, or Home / End on an empty prompt: top / bottom) |
| F2 | a multi-line request (Ctrl+S sends) |
| Ctrl+Y | copy the last answer (a poem's card has Copy text) |
| Tab | into the cards' buttons (Enter presses; the prompt gets the keys back after) |
| F1 | this help |
| Ctrl+Q | quit |
| /brief FILE | run a brief's messages in this session |
| /save-brief FILE | save this session's messages as a brief that replays it |

Ask for poems in words: *a haiku about first snow*, *a sonnet about the harbour at dawn*,
*a limerick about a cat who sailed to sea*, *make the poem more like Dickinson*.
Ask for pictures: *a picture of a red apple*, *draw a blue boat at dusk, 256x256*,
*make the picture less conventional*.
Ask for music in words: *16 bars of slow piano music in D minor*, *a lively jig for fiddle*,
*a Bach chorale in A minor*, *continue primer.mid for 8 bars*, *make the music less conventional*.
Restyle a picture after a painting: *restyle photo.jpg like starry night*, *repaint the last image
in the style of the scream, keep the colours*.
"""
