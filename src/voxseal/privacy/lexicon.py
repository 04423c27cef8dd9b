"""Word lists the detectors lean on: context cues, units, stop words and first names.

ASR transcripts are lowercase and unpunctuated, so the shape of a token says little; the words
around it say a lot ("my card number is …", "… dollars", "this is … speaking"). Cues are
phrases of lowercase tokens; the nearest one before a number decides what the number is.
"""

from __future__ import annotations

from enum import StrEnum


class Cue(StrEnum):
    CARD = "card"
    CVV = "cvv"
    SSN = "ssn"
    PHONE = "phone"
    ACCOUNT = "account"
    DOB = "dob"
    ZIP = "zip"
    MRN = "mrn"
    #: a PIN or passcode: sensitive authentication data, redacted like a CVV
    PIN = "pin"
    #: "code": a CVV only when a card was mentioned before it in the utterance
    CODE = "code"
    #: a weak cue ("number", "id"): identifies nothing by itself
    GENERIC = "generic"
    #: the number that follows is not about a person (money, orders, times, counts)
    NEGATIVE = "negative"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _phrases(kind: Cue, text: str) -> dict[tuple[str, ...], Cue]:
    return {tuple(p.split()): kind for p in text.split(",") if p.strip()}


CUES: dict[tuple[str, ...], Cue] = {
    **_phrases(
        Cue.CARD,
        "card,cards,visa,mastercard,master card,amex,american express,discover,credit,debit,"
        "card number,card no,long number,pan,maestro,diners",
    ),
    **_phrases(
        Cue.CVV,
        "cvv,cvc,cvv2,cid,security code,three digit code,3 digit code,four digit code,"
        "code on the back,csc,verification code on the card",
    ),
    **_phrases(
        Cue.SSN,
        "social,ssn,social security,socials,tax id,taxpayer,itin,national insurance,ni number,"
        "s s n",
    ),
    **_phrases(
        Cue.PHONE,
        "phone,telephone,cell,cellphone,mobile,landline,call me,call me back,call back,callback,"
        "reach me,text me,contact number,my number,fax,whatsapp,best number,phone number,"
        "call you back,number to call,reached at,home number,work number,dial,ring me",
    ),
    **_phrases(
        Cue.ACCOUNT,
        "account,acct,accounts,routing,aba,sort code,iban,checking,savings,account number,"
        "customer number,customer id,bank account,membership number,loyalty number,"
        "account no,a c c t",
    ),
    **_phrases(
        Cue.DOB,
        "born,birth,dob,birthday,birthdate,date of birth,d o b,b day,born in,born on",
    ),
    **_phrases(Cue.ZIP, "zip,zip code,postcode,post code,postal code,zipcode"),
    **_phrases(
        Cue.MRN,
        "mrn,medical record,record number,patient id,patient number,chart number,member id,"
        "member number,subscriber id,subscriber number,policy number,group number,insurance id,"
        "medicare,medicaid,beneficiary,health plan,plan id,insurance number,nhs number,"
        "medical record number,health insurance,prescription number,rx number,m r n",
    ),
    **_phrases(Cue.PIN, "pin,pin number,pin code,passcode,pass code,password"),
    **_phrases(Cue.CODE, "code"),
    **_phrases(Cue.NEGATIVE, "area code,promo code,discount code,code you texted,code you sent"),
    **_phrases(Cue.GENERIC, "number,id,digits,no,#,identifier"),
    **_phrases(
        Cue.NEGATIVE,
        "order,orders,tracking,confirmation,reference,ref,invoice,case,ticket,flight,room,"
        "price,balance,total,amount,cost,costs,pay,paid,payment,owe,owed,charge,charged,fee,"
        "limit,refund,version,model,step,page,line,item,items,quantity,approximately,"
        "bill,bills,deposit,withdraw,"
        "withdrew,transfer,transferred,sent,spent,extension,ext,floor,gate,seat,platform,"
        "channel,option,press,aisle,bus,route,size,rated,score,dose,minutes,hours,",
    ),
}
#: words that may stand between a cue and the number it introduces ("account number is …");
#: anything else ("account was opened 12 years ago") means the cue is about something else
FILLER = _words(
    "is was are it's its number numbers no # : - , my the a um uh er ok okay so sure yes yeah "
    "of id on at to for digits would be will should that's thats there it please then with just "
    "actually again here mine that one ends starts reads goes"
)
#: words allowed between a number and a cue after it ("4111 … is my card number")
FILLER_AFTER = _words("is was that's thats my the as for on it's its being ,")

#: longest cue phrase, in tokens
MAX_CUE = max(len(k) for k in CUES)

#: a number followed by one of these is an amount, a time or a count, not an identifier
UNITS_AFTER = _words(
    "dollars dollar bucks cents cent pounds pound quid pence euros euro percent % am pm "
    "o'clock oclock minutes minute mins hours hour hrs seconds secs days day weeks week months "
    "month years year items item pieces times people persons miles mile km kilometers "
    "kilometres kilos kg lbs mg milligrams ml milliliters units tablets pills grand k gb mb "
    "points bedrooms rooms nights orders packages boxes calls texts emails refills "
    "inches feet ft degrees"
)
UNITS_BEFORE = _words("$ £ € ¥ # usd gbp eur")

MONTHS: dict[str, int] = {
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}

STREET_SUFFIXES = _words(
    "street st avenue ave road rd boulevard blvd lane ln drive court ct way place pl terrace "
    "circle cir parkway pkwy highway hwy close crescent square sq trail row grove gardens walk "
    "mews plaza alley pike turnpike"
)
UNIT_WORDS = _words("apartment apt unit suite ste flat room floor #")

TLDS = _words(
    "com org net edu gov io co uk us ca de fr info biz me ai au nz ie in es it nl ch app dev "
    "health mail"
)

#: honorifics before a surname
TITLES = _words("mr mrs ms miss mister missus dr doctor prof professor sir madam nurse")

#: words that end a name or cannot be one (function words, common call-centre verbs/nouns)
STOP = _words(
    """
a an the and or but so if then than that this these those there here it its it's i i'm im
me my mine we our us you your yours he him his she her they them their is am are was were be
been being do does did done have has had having will would shall should can could may might
must not no yes yeah yep ok okay um uh er hmm well just really very too also only still even
to of in on at by for from with about into over under after before since until up down out off
as like please thanks thank hello hi hey bye goodbye sorry calling call called speaking speak
talking talk here there now today tomorrow yesterday again back number card account phone
email address name date birth born social security code zip what when where why how who which
whom whose going go get got getting trying try looking want wanted need needed wondering
checking check make made making help helping see seen say said tell told ask asked give given
pay paid payment bill order appointment doctor's office clinic hospital bank team department
new old good great fine sure right wrong fine happy glad afraid sick unwell interested
available ready done calling sending send reschedule cancel change update confirm schedule
booked book it's that's what's from regarding re with the one two three four five six seven
eight nine zero oh ten all any some every each much many more most other another same
street avenue road lane drive court way place the mr mrs ms dr last next week weeks month
months year morning afternoon evening night tonight ago earlier later soon first
"""
)

#: common first names; used when the transcript is lowercase and there is no other cue
FIRST_NAMES = _words(
    """
james john robert michael william david richard joseph thomas charles christopher daniel
matthew anthony donald steven paul andrew joshua kenneth kevin brian george timothy ronald
edward jason jeffrey ryan jacob gary nicholas eric jonathan stephen larry justin scott brandon
benjamin samuel gregory alexander frank patrick raymond jack dennis jerry tyler aaron jose adam
nathan henry douglas zachary peter kyle ethan walter noah jeremy christian keith roger terry
gerald harold sean austin carl arthur lawrence dylan jesse jordan bryan billy joe bruce gabriel
logan albert willie alan juan wayne elijah randy roy vincent ralph eugene russell bobby mason
philip louis mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa
nancy betty margaret sandra ashley kimberly emily donna michelle carol amanda dorothy melissa
deborah stephanie rebecca sharon laura cynthia kathleen amy angela shirley anna brenda pamela
emma nicole helen samantha katherine christine debra rachel carolyn janet catherine maria
heather diane ruth julie olivia joyce virginia victoria kelly lauren christina joan evelyn
judith megan andrea cheryl hannah jacqueline martha gloria teresa ann sara madison frances
kathryn janice jean abigail alice judy sophia denise doris marilyn danielle beverly isabella
theresa diana natalie brittany charlotte marie kayla alexis lori priya raj rahul anil sunita
mohammed muhammad ahmed ali fatima aisha omar hassan wei li ming chen yuki hiroshi kenji
carlos luis miguel jorge sofia lucia elena ana pedro diego javier alejandro oliver harry
charlie freddie alfie archie oscar leo isla ava mia amelia poppy lily freya siobhan niamh
ciaran declan sinead aoife liam connor callum fiona morag hamish ewan kirsty
"""
)
#: first names that are also everyday words; only accepted with a stronger cue
AMBIGUOUS_NAMES = _words(
    "will may june mark bill grace faith hope rose jack frank joy summer april august dawn "
    "art pat sue don ray ken guy rich miles chase hunter drew lee dean ali"
)
