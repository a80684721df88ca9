"""Intent by rules (zh + en): complaint | question | suggestion | praise.

Cue families are matched on lower-cased, normalised text and combined:
  problem evidence (defect / safety / negative experience)  -> complaint, unless the only cue
      beside it is a polite suggestion and the problem is mild
  suggestion cue (建议, 希望有, wish it had, please add ...)  -> suggestion
  question cue (吗, 怎么, how do I, ?) with no problem        -> question
  praise cue (很好, love, great ...) with no problem          -> praise
  transactional words alone (退货, refund) or nothing       -> complaint (these are support tickets)
"""

from __future__ import annotations

import re

from nlp.severity import DEFECT_RE, has_safety

INTENTS = ("complaint", "question", "suggestion", "praise")

SUGGESTION_RE = re.compile(
    r"建议|希望(?:能|可以|贵司|你们|厂家|商家|以后|下次|下一代|新款|后续|能够|增加|加|有|出|推出|改进|改善|优化|做)|"
    r"能不能出|能否(?:出|推出|增加|加|考虑|做)|可不可以(?:出|加|增加|做)|要是.{0,20}就(?:更)?好了|"
    r"如果.{0,20}就(?:更|会更)?(?:好|完美|方便)了?|要是能.{0,20}|期待(?:出|推出|有|新款|下一代|你们)|"
    r"最好(?:能|可以)?(?:加|有|出|增加|改|配)|可以考虑|考虑(?:一下)?(?:增加|出|推出|加)|增加.{0,8}功能|"
    r"加(?:个|一个|上)|出(?:个|一款|一个)|多出|改进一下|改良|提个意见|提个建议|小建议|一点意见|意见[:：]|"
    r"什么时候(?:出|推出|上市)|有没有计划|会不会出|为什么不(?:出|做|加)|缺少.{0,6}功能|没有.{0,8}功能|"
    r"\b(?:suggest\w*|wish (?:it|there|you|they|the|i could)|would be (?:great|nice|awesome|helpful|better|"
    r"good|ideal|perfect) (?:if|to)|would love (?:to see|a|an|if|it if)|i'?d love (?:to see|a|an|if)|please add|"
    r"please consider|please make|feature request|it would help if|(?:could|can) you (?:add|make|consider|offer|"
    r"release|include|bring)|consider (?:adding|making|offering|including)|should (?:add|have|offer|include|"
    r"come with|make)|hope you (?:add|make|release|will|can)|why not (?:add|make|offer)|next version|future "
    r"(?:version|model|models|update)|in the future|idea:|my idea|it'?d be (?:great|nice|cool|better)|"
    r"if only|missing (?:a|an) (?:feature|option|setting)|needs? (?:a|an) (?:option|setting|feature)|"
    r"any plans? to|would be a (?:great|nice|welcome) (?:addition|improvement)|improvement|request)\b",
    re.I,
)

QUESTION_RE = re.compile(
    r"[?？]|吗|怎么|如何|怎样|能否|可否|可不可以|是否|请问|多久|多长时间|多少|哪里|哪儿|哪个|哪些|什么时候|啥时候|"
    r"有没有|是不是|能不能|会不会|要不要|咨询|想问|想知道|想了解|求助|求教|不知道(?:怎么|如何|能不能|是否)|"
    r"\b(?:how (?:do|can|to|long|much|many|often|should|does|would)|can i|could i|may i|is it (?:possible|safe|"
    r"normal|ok|okay)|does (?:it|the|this|your)|do (?:you|i|they)|where (?:can|is|do|are)|when (?:will|can|is|"
    r"does|do)|what (?:is|are|should|does|do)|which|is there|are there|should i|wondering|want to know|"
    r"wanted to ask|quick question|question about|any (?:way|tips)|advice)\b",
    re.I,
)

PRAISE_RE = re.compile(
    r"很好|非常好|挺好|真好|不错|满意|点赞|好评|喜欢|推荐|好用|给力|五星|赞|棒|超值|惊喜|完美|漂亮|好看|好吃|"
    r"物美价廉|性价比高|值得|划算|靠谱|专业|耐心|贴心|及时|迅速|神器|爱了|感谢.{0,10}(?:客服|耐心|帮助|及时|快速|解决)|"
    r"太方便|很方便|方便|省事|省心|效率高|速度快|很快|很赞"
    r"|\b(?:great|love|loved|loving|excellent|amazing|perfect|perfectly|awesome|happy with|satisfied|recommend\w*|"
    r"fantastic|wonderful|brilliant|superb|works (?:great|well|perfectly|like a charm)|best|five stars|5 stars|"
    r"impressed|delighted|pleased|kudos|nice|beautiful|easy to (?:use|clean)|fast delivery|quick(?:ly)? (?:resolved|"
    r"sorted|fixed)|thank you so much|thanks so much|appreciate\w*|helpful|outstanding|exceeded)\b"
    r"|[👍😊😍🥰❤️👏💯🌟⭐]",
    re.I,
)
NEGATED_PRAISE_RE = re.compile(
    r"不(?:太|是很|怎么|够|算)?(?:好|满意|喜欢|推荐|好用|方便|值得|划算|靠谱|专业|及时)|没(?:有)?(?:那么|想象中)?(?:好|方便)|"
    r"一点也不|并不|差评|不值|后悔|"
    r"\b(?:not|never|isn'?t|wasn'?t|aren'?t|don'?t|didn'?t|no longer|hardly|far from|not so|not very|not that) "
    r"(?:\w+ )?(?:great|good|happy|satisfied|recommend\w*|impressed|pleased|helpful|love|easy|nice|perfect|fast|"
    r"quick|worth)\b",
    re.I,
)
NEGATIVE_RE = re.compile(
    r"失望|差劲|太差|很差|极差|垃圾|烂|坑|骗|欺骗|假货|后悔|气死|无语|恶心|离谱|过分|愤怒|生气|不满|糟糕|"
    r"投诉|差评|退货|退款|换货|赔偿|索赔|维权|曝光|12315|消协|不行|不好|不满意|不能|没用|一直没|至今|还没|到现在|"
    r"等了|没人|没有人|不理|不回|问题|毛病|"
    r"\b(?:disappoint\w*|terrible|awful|horrible|worst|poor|bad|useless|garbage|junk|trash|scam|fraud|angry|furious|"
    r"upset|frustrat\w*|unacceptable|ridiculous|regret|complain\w*|refund|return(?:ed|ing)? (?:it|this|the)|"
    r"money back|replacement|compensat\w*|demand|still (?:waiting|no|not|haven'?t)|never (?:arrived|received|"
    r"got|came|replied|heard)|waste|wasted|ruined|issue|problem|wrong|missing|damaged|late|delayed|lost|"
    r"rude|ignored|charged|not (?:happy|acceptable)|can'?t believe|nobody|no one|no response|no reply|"
    r"doesn'?t|does not|didn'?t|won'?t|isn'?t|not)\b",
    re.I,
)
# mild problem words that a suggestion may contain ("没有定时功能", "doesn't have a timer")
_MILD_ONLY_RE = re.compile(r"\b(?:doesn'?t|does not|didn'?t|won'?t|isn'?t|not|issue|problem|missing)\b|不能|没|问题|不好")
_EMOJI_NEG_RE = re.compile(r"[😡😠👎💩😤😭😞🤬💔]")


def _count(rx: re.Pattern[str], text: str) -> int:
    return len(rx.findall(text))


def classify_intent(text: str) -> str:
    low = text.lower()
    if not low.strip():
        return "complaint"
    safety = has_safety(low)
    defect = bool(DEFECT_RE.search(low))
    neg_praise = bool(NEGATED_PRAISE_RE.search(low))
    negatives = NEGATIVE_RE.findall(low)
    strong_neg = [n for n in negatives if not _MILD_ONLY_RE.fullmatch(n)]
    suggestion = bool(SUGGESTION_RE.search(low))
    question = bool(QUESTION_RE.search(low))
    praise = bool(PRAISE_RE.search(NEGATED_PRAISE_RE.sub(" ", low)))
    emoji_neg = bool(_EMOJI_NEG_RE.search(text))

    problem = safety or defect or neg_praise or bool(strong_neg) or emoji_neg
    mild = bool(negatives) and not strong_neg

    if suggestion and not safety and not strong_neg and not (defect and not praise and not mild):
        return "suggestion"
    if suggestion and (praise or mild) and not safety and not strong_neg:
        return "suggestion"
    if problem:
        # "Is it normal that ...?" without a complaint tone stays a question
        if question and not strong_neg and not neg_praise and not emoji_neg and not _has_report(low):
            return "question"
        return "complaint"
    if question:
        return "question"
    if praise:
        return "praise"
    if suggestion:
        return "suggestion"
    return "complaint"


_REPORT_RE = re.compile(
    r"坏了|坏掉|不工作|不加热|没反应|漏水|漏电|冒烟|起火|着火|开不了机|关不紧|停止工作|报错|异响"
    r"|\b(?:broke|broken|stopped|died|dead|caught fire|won'?t|doesn'?t work|not working|leaking|cracked|smoked|"
    r"sparked|melted|burned|burnt|shocked|keeps?)\b",
    re.I,
)


def _has_report(low: str) -> bool:
    """A concrete failure report (as opposed to asking whether something is normal)."""
    return bool(_REPORT_RE.search(low))
